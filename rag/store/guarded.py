"""A segment's read-only SQLite connection whose reads turn damage into one error.

Every read at this boundary that finds damage (SQLite's "database disk image is
malformed", an unreadable row) raises `IndexCorruptError` naming the index, the file and
the fix; other errors are bugs and keep their traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.store.integrity import Damage, corrupt_error

# SQLite result codes that mean a damaged or vanished file (IOERR, CORRUPT, CANTOPEN, NOTADB)
_DAMAGE_CODES = {10, 11, 14, 26}


class GuardedDB:
    """A generation's read-only SQLite connection whose reads turn damage into
    `IndexCorruptError` (SQLite may find a damaged page only when a query reaches it)."""

    def __init__(
        self,
        con: sqlite3.Connection,
        index_dir: Path,
        generation: str,
        file: str = "chunks.sqlite",
    ) -> None:
        self.con, self.index_dir, self.generation, self.file = con, index_dir, generation, file

    def damaged(self, e: BaseException, what: str = "") -> BaseException:
        """The IndexCorruptError for an error raised by a read, or `e` itself if it is no
        sign of damage (a bug)."""
        if isinstance(e, sqlite3.DatabaseError):
            code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
            if code not in _DAMAGE_CODES and "malformed" not in str(e):
                return e
        elif not isinstance(e, ValueError | KeyError | IndexError | TypeError):
            return e
        why = what or " ".join(str(e).split())[:100]
        problem = f"is unreadable ({why})"
        return corrupt_error(self.index_dir, [Damage(self.generation, self.file, problem)])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _GuardedCursor:
        try:
            return _GuardedCursor(self.con.execute(sql, params), self)
        except sqlite3.DatabaseError as e:
            raise self.damaged(e) from None

    def close(self) -> None:
        self.con.close()


class _GuardedCursor:
    def __init__(self, cur: sqlite3.Cursor, db: GuardedDB) -> None:
        self.cur, self.db = cur, db

    def fetchall(self) -> list[Any]:
        try:
            return self.cur.fetchall()
        except sqlite3.DatabaseError as e:
            raise self.db.damaged(e) from None

    def fetchone(self) -> Any:
        try:
            return self.cur.fetchone()
        except sqlite3.DatabaseError as e:
            raise self.db.damaged(e) from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())
