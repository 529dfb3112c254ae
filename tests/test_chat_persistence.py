"""rag.chat.persistence: the chat database schema against what chainlit really writes."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rag.chat import persistence
from rag.chat.persistence import LocalFileStorageClient, ensure_sqlite_schema, resolve_database


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}


def _ddl_columns(ddl: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", ddl, re.S):
        tables[m.group(1)] = re.findall(r'^\s+"(\w+)" ', m.group(2), re.M)
    return tables


def test_schema_is_idempotent_and_adds_late_columns(tmp_path: Path) -> None:
    db = tmp_path / "old" / "chat.sqlite3"
    db.parent.mkdir()
    con = sqlite3.connect(db)  # a database made from chainlit's older docs
    con.execute('CREATE TABLE steps ("id" TEXT PRIMARY KEY, "name" TEXT, "type" TEXT)')
    con.execute('CREATE TABLE elements ("id" TEXT PRIMARY KEY, "name" TEXT)')
    con.commit()
    con.close()
    ensure_sqlite_schema(db)
    ensure_sqlite_schema(db)
    con = sqlite3.connect(db)
    try:
        assert {"autoCollapse", "modes", "defaultOpen", "command"} <= _columns(con, "steps")
        assert {"props", "autoPlay", "playerConfig"} <= _columns(con, "elements")
        assert _columns(con, "feedbacks") == {"id", "forId", "threadId", "value", "comment"}
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_postgres_ddl_has_the_same_tables_and_columns() -> None:
    pg = _ddl_columns(persistence.POSTGRES_DDL_FILE.read_text(encoding="utf-8"))
    lite = _ddl_columns(persistence.SQLITE_DDL)
    assert set(pg) == {"users", "threads", "steps", "elements", "feedbacks"}
    assert pg == lite


COLUMNS_CHAINLIT_WRITES = r"""
import asyncio, dataclasses, json, sqlite3, sys
from rag.chat.persistence import ensure_sqlite_schema
ensure_sqlite_schema("s.sqlite3")
import chainlit as cl
from chainlit.context import init_http_context
from chainlit.types import Feedback

async def main():
    init_http_context()
    steps = set(cl.Message(content="x").to_dict()) | set(cl.Step(name="s").to_dict())
    steps |= {"metadata", "generation", "showInput"}
    els = set()
    for e in (cl.CustomElement(name="[1]", props={"a": 1}), cl.Text(name="t", content="c"),
              cl.Audio(name="a", content=b"x"), cl.Pdf(name="p", content=b"x"),
              cl.Image(name="i", content=b"x")):
        els |= set(e.to_dict())
    els |= {"url", "objectKey"}
    fb = {f.name for f in dataclasses.fields(Feedback)}
    con = sqlite3.connect("s.sqlite3")
    cols = lambda t: {r[1] for r in con.execute(f'PRAGMA table_info("{t}")')}
    print(json.dumps({"steps": sorted(steps - cols("steps")),
                      "elements": sorted(els - cols("elements")),
                      "feedbacks": sorted(fb - cols("feedbacks"))}))

asyncio.run(main())
"""


def test_schema_has_every_column_chainlit_writes(tmp_path: Path) -> None:
    """chainlit builds INSERTs from to_dict() keys and only logs a failed one."""
    pytest.importorskip("chainlit")
    # a subprocess in a temp folder: importing chainlit creates .files/ and config there
    r = subprocess.run(
        [sys.executable, "-c", COLUMNS_CHAINLIT_WRITES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    missing = json.loads(r.stdout.strip().splitlines()[-1])
    assert missing == {"steps": [], "elements": [], "feedbacks": []}


def test_resolve_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = tmp_path / ".chat" / "chat.sqlite3"
    d = resolve_database(None, default)
    assert d.sqlite_path == default and d.url == f"sqlite+aiosqlite:///{default}"
    monkeypatch.chdir(tmp_path)
    rel = resolve_database("sqlite:///rel/chat.db", default)
    assert rel.sqlite_path == tmp_path / "rel" / "chat.db"
    absolute = resolve_database(f"sqlite+aiosqlite:///{tmp_path}/a.db", default)
    assert absolute.sqlite_path == tmp_path / "a.db"
    pg = resolve_database("postgresql://u:secret@db.example/chat", default)
    assert pg.url == "postgresql+asyncpg://u:secret@db.example/chat" and pg.sqlite_path is None
    assert "secret" not in pg.describe()
    asyncpg = "postgresql+asyncpg://u@h/db"
    assert resolve_database(asyncpg, default).url == asyncpg
    with pytest.raises(ValueError, match="not a URL"):
        resolve_database("chat.sqlite3", default)
    with pytest.raises(ValueError, match="in-memory"):
        resolve_database("sqlite://", default)


def test_local_storage_client(tmp_path: Path) -> None:
    store = LocalFileStorageClient(tmp_path / "blobs")

    async def go() -> None:
        up = await store.upload_file("user-1/el-1/[1]", '{"n": 1}', mime="application/json")
        assert up["url"] is None
        path = tmp_path / "blobs" / up["object_key"]
        assert path.read_text() == '{"n": 1}' and "[" not in up["object_key"]
        again = await store.upload_file("user-1/el-1/[1]", b"new", overwrite=False)
        assert again["object_key"] == up["object_key"] and path.read_text() == '{"n": 1}'
        assert await store.delete_file(up["object_key"]) is True
        assert await store.delete_file(up["object_key"]) is False
        assert await store.get_read_url("x") == ""
        with pytest.raises(ValueError, match="leaves the storage folder"):
            await store.upload_file("../../etc/x", b"x")
        await store.close()

    asyncio.run(go())
