"""JSON and JSON Lines: one record per article, with a 'body', 'text' or 'content' field.

A JSON file holds one record, a list of records, or an object with one list of records
(as MultiHop-RAG's corpus.json). What it does not do: guess fields other than those.
"""

from __future__ import annotations

import json
from typing import Any

from rag.ingest.common import BODY_KEYS, Items, Skipped, as_str, clean, finish, record_id


def _json_error(e: json.JSONDecodeError) -> str:
    """'line 1, column 20: invalid control character' (json's own message ends in 'at',
    the position it leaves out)."""
    what = e.msg.removesuffix(" at")
    return f"line {e.lineno}, column {e.colno}: {what[:1].lower()}{what[1:]}"


def read_json(text: str, where: str) -> Items:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        yield Skipped(where, f"invalid JSON ({_json_error(e)}); fix the file")
        return
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if any(k in data for k in BODY_KEYS):
            data = [data]
        elif len(lists) == 1:
            data = lists[0]
        else:
            yield Skipped(where, "JSON is neither a record nor a list of records")
            return
    if not isinstance(data, list):
        yield Skipped(where, "JSON is neither a record nor a list of records")
        return
    for i, rec in enumerate(data):
        yield from _record(rec, f"{where}#{i}")


def read_jsonl(text: str, where: str) -> Items:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            yield Skipped(
                f"{where}:{lineno}", f"invalid JSON line ({_json_error(e)}); fix or remove it"
            )
            continue
        yield from _record(rec, f"{where}:{lineno}")


def _record(rec: Any, where: str) -> Items:
    if not isinstance(rec, dict):
        yield Skipped(where, "record is not a JSON object")
        return
    body = next((rec[k] for k in BODY_KEYS if isinstance(rec.get(k), str)), None)
    if body is None or not body.strip():
        yield Skipped(where, "record has no text (expected a 'body', 'text' or 'content' field)")
        return
    body = clean(body).strip("\n")
    title = as_str(rec.get("title"))
    empty = "record has no text besides its title"
    yield from finish(rec, record_id(rec), title, body, where, empty)
