"""The chat database: schema, URL resolution and element storage (no chainlit import).

chainlit's `SQLAlchemyDataLayer` creates no tables. It builds each INSERT from the keys
of its `to_dict()` methods and only logs SQL errors, so a missing column loses data
without a sound. The schema here is the one from chainlit's docs plus every column
2.12 writes: `steps.command`, `steps.modes`, `steps.defaultOpen`, `steps.autoCollapse`
(undocumented), `elements.props`, `elements.autoPlay`, `elements.playerConfig`.
`tests/test_chat_persistence.py` checks it against what chainlit really emits.

- SQLite (the default, `.chat/chat.sqlite3` next to app.py): the app creates the
  schema at startup with `ensure_sqlite_schema` (idempotent, adds late columns).
- Postgres (`chat.database_url = "postgresql+asyncpg://..."`): create the schema once
  with `psql -f rag/chat/schema.sql` (same tables and columns, Postgres types).

What it does not do: talk to chainlit or run queries for the app.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRES_DDL_FILE = Path(__file__).with_name("schema.sql")

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS users (
    "id" TEXT PRIMARY KEY,
    "identifier" TEXT NOT NULL UNIQUE,
    "metadata" TEXT NOT NULL,
    "createdAt" TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    "id" TEXT PRIMARY KEY,
    "createdAt" TEXT,
    "name" TEXT,
    "userId" TEXT,
    "userIdentifier" TEXT,
    "tags" TEXT,
    "metadata" TEXT,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS steps (
    "id" TEXT PRIMARY KEY,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "threadId" TEXT NOT NULL,
    "parentId" TEXT,
    "streaming" BOOLEAN NOT NULL,
    "waitForAnswer" BOOLEAN,
    "isError" BOOLEAN,
    "metadata" TEXT,
    "tags" TEXT,
    "input" TEXT,
    "output" TEXT,
    "createdAt" TEXT,
    "command" TEXT,
    "modes" TEXT,
    "start" TEXT,
    "end" TEXT,
    "generation" TEXT,
    "showInput" TEXT,
    "language" TEXT,
    "indent" INTEGER,
    "defaultOpen" BOOLEAN,
    "autoCollapse" BOOLEAN,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS elements (
    "id" TEXT PRIMARY KEY,
    "threadId" TEXT,
    "type" TEXT,
    "url" TEXT,
    "chainlitKey" TEXT,
    "name" TEXT NOT NULL,
    "display" TEXT,
    "objectKey" TEXT,
    "size" TEXT,
    "page" INTEGER,
    "language" TEXT,
    "forId" TEXT,
    "mime" TEXT,
    "props" TEXT,
    "autoPlay" BOOLEAN,
    "playerConfig" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" TEXT PRIMARY KEY,
    "forId" TEXT NOT NULL,
    "threadId" TEXT NOT NULL,
    "value" INTEGER NOT NULL,
    "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS steps_thread_idx ON steps("threadId");
CREATE INDEX IF NOT EXISTS elements_thread_idx ON elements("threadId");
CREATE INDEX IF NOT EXISTS threads_user_idx ON threads("userId");
CREATE INDEX IF NOT EXISTS feedbacks_for_idx ON feedbacks("forId");
"""

# Columns chainlit added over time: an older database gets them with ALTER TABLE.
LATE_COLUMNS = {
    "steps": {
        "command": "TEXT",
        "modes": "TEXT",
        "defaultOpen": "BOOLEAN",
        "autoCollapse": "BOOLEAN",
    },
    "elements": {"props": "TEXT", "autoPlay": "BOOLEAN", "playerConfig": "TEXT"},
}


def ensure_sqlite_schema(db_path: Path | str) -> None:
    """Create the chat tables if missing (idempotent; stdlib sqlite3, synchronous)."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db_path)
    try:
        con.execute("PRAGMA journal_mode=WAL")  # readers never block the layer's writes
        con.executescript(SQLITE_DDL)
        for table, cols in LATE_COLUMNS.items():
            have = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
            for col, typ in cols.items():
                if col not in have:
                    con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {typ}')
        con.commit()
    finally:
        con.close()


@dataclass(frozen=True)
class Database:
    """Where the chat history goes: the async URL for chainlit, and the SQLite file."""

    url: str  # for SQLAlchemy's async engine
    sqlite_path: Path | None  # set when it is SQLite (the app creates the schema)

    def describe(self) -> str:
        if self.sqlite_path is not None:
            return f"SQLite {self.sqlite_path}"
        head, _, tail = self.url.partition("://")
        return f"{head}://{tail.rpartition('@')[2]}"  # no password in logs


def resolve_database(url: str | None, default_sqlite: Path) -> Database:
    """`chat.database_url` (None: the default SQLite file) → a `Database`.

    `sqlite:///path` and `sqlite+aiosqlite:///path` both work (relative paths are
    taken from the current folder); `postgresql://` gets the asyncpg driver.
    """
    if not url:
        p = Path(default_sqlite).resolve()
        return Database(f"sqlite+aiosqlite:///{p}", p)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(
            f"chat.database_url {url!r} is not a URL; use e.g. sqlite:///chat.sqlite3 or "
            "postgresql+asyncpg://user:pass@host/db"
        )
    base = scheme.split("+", 1)[0].lower()
    if base == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            raise ValueError("chat.database_url: an in-memory SQLite database keeps nothing")
        p = Path(path).expanduser().resolve()
        return Database(f"sqlite+aiosqlite:///{p}", p)
    if base in ("postgresql", "postgres"):
        return Database("postgresql+asyncpg://" + rest, None)
    return Database(url, None)


class LocalFileStorageClient:
    """Element payloads in a local folder (chainlit's `BaseStorageClient` interface).

    Without a storage client the data layer persists no elements at all, so resumed
    conversations would lose their `[n]` links. The app only sends CustomElements,
    whose payload is the JSON of their props (the panel reads the props from the
    elements table); they are kept here so a deleted thread can delete them too.
    Returns no URL: not for files the browser must download.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def _path(self, object_key: str) -> Path:
        safe = "/".join(
            "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in part) or "_"
            for part in object_key.split("/")
        )
        p = (self.root / safe).resolve()
        if self.root not in p.parents:
            raise ValueError(f"object key {object_key!r} leaves the storage folder")
        return p

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        p = self._path(object_key)
        key = str(p.relative_to(self.root))
        if p.exists() and not overwrite:
            return {"object_key": key, "url": None}
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, p)
        return {"object_key": key, "url": None}

    async def delete_file(self, object_key: str) -> bool:
        try:
            self._path(object_key).unlink()
        except (FileNotFoundError, ValueError):
            return False
        return True

    async def get_read_url(self, object_key: str) -> str:
        return ""

    async def close(self) -> None:
        return None
