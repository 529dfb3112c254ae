"""Gold sets → `GoldItem`s: our JSON Lines format and MultiHop-RAG's query file.

Our format (one object per line, see DESIGN.md):
    {"id", "question", "answers": [aliases], "sources": [doc ids],
     "evidence": [verbatim facts], "points": [[aliases of a key point], ...], "type"}
`answers` empty means the corpus cannot answer: the right response is to abstain.
`points` (optional) are the key points a complete answer covers, each a list of aliases.

MultiHop-RAG (`--format multihop-rag`): a JSON array of {query, answer, question_type,
evidence_list[{url, fact, ...}]}. `question_type` becomes `type` (without the `_query`
suffix), `answer` the only alias, the facts the evidence, and each evidence article the
document id that ingesting its corpus.json gives (`rag.ingest.record_id` of the evidence
item: a slug of its url). Null queries (no evidence) get no answer: abstaining is right.

Every error names the file and the line and says what to fix. What this module does not
do: open an index (the caller passes the known document ids to `check_sources`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.errors import InputError, UsageError
from rag.ingest import record_id

Format = Literal["jsonl", "multihop-rag"]
FORMATS: tuple[str, ...] = ("jsonl", "multihop-rag")
DEFAULT_TYPE = "untyped"


@dataclass(slots=True)
class GoldItem:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    type: str = DEFAULT_TYPE
    line: int = 0  # where it starts in the gold file (1-based)
    points: list[list[str]] = field(default_factory=list)  # key points, each a list of aliases

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_gold(path: Path | str, fmt: str = "jsonl") -> list[GoldItem]:
    """Read a gold file; raises InputError naming the file and line of the first problem."""
    path = Path(path)
    if fmt not in FORMATS:
        raise UsageError(f"unknown gold format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise InputError(f"gold file {path} not found; check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"gold file {path} is not UTF-8 (byte {e.start}); convert it") from None
    except OSError as e:
        raise InputError(f"gold file {path} is unreadable ({e.strerror}); check it") from None
    items = _read_jsonl(text, path) if fmt == "jsonl" else _read_multihop(text, path)
    if not items:
        raise InputError(f"gold file {path} holds no questions; add some or fix the path")
    seen: dict[str, int] = {}
    for it in items:
        if it.id in seen:
            raise InputError(
                f"{path}:{it.line}: duplicate id {it.id!r} (also on line {seen[it.id]}); "
                "give every question its own id"
            )
        seen[it.id] = it.line
    return items


def check_sources(items: Iterable[GoldItem], known: set[str], path: Path | str, index: Any) -> None:
    """Fail on the first gold source that is not a document of the index."""
    for it in items:
        for s in it.sources:
            if s not in known:
                raise InputError(
                    f"{path}:{it.line}: unknown document id {s!r} in sources of {it.id!r} "
                    f"(not in index {index}); fix the id or ingest that document"
                )


# --------------------------------------------------------------------------- JSON Lines


def _read_jsonl(text: str, path: Path) -> list[GoldItem]:
    out: list[GoldItem] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(
                f"{where}: invalid JSON ({e.msg}, column {e.colno}); fix or remove the line"
            ) from None
        if not isinstance(rec, dict):
            raise InputError(f"{where}: expected a JSON object per line, got {_kind(rec)}")
        out.append(_item(rec, where, lineno, default_id=f"line{lineno}"))
    return out


def _item(rec: dict[str, Any], where: str, lineno: int, default_id: str) -> GoldItem:
    q = rec.get("question")
    if not isinstance(q, str) or not q.strip():
        raise InputError(f"{where}: missing 'question' (a non-empty string); add it")
    raw_id = rec.get("id", default_id)
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or str(raw_id) == "":
        raise InputError(f"{where}: 'id' must be a non-empty string; fix it")
    typ = rec.get("type", DEFAULT_TYPE)
    if typ is None:
        typ = DEFAULT_TYPE
    if not isinstance(typ, str) or not typ.strip():
        raise InputError(f"{where}: 'type' must be a non-empty string; fix it")
    return GoldItem(
        id=str(raw_id),
        question=" ".join(q.split()),
        answers=_strings(rec, "answers", where),
        sources=_strings(rec, "sources", where),
        evidence=_strings(rec, "evidence", where),
        type=typ.strip(),
        line=lineno,
        points=_points(rec, where),
    )


def _points(rec: dict[str, Any], where: str) -> list[list[str]]:
    v = rec.get("points")
    if v is None:
        return []
    ok = isinstance(v, list) and all(
        isinstance(p, list) and p and all(isinstance(a, str) and a.strip() for a in p) for p in v
    )
    if not ok:
        raise InputError(
            f"{where}: 'points' must be a list of key points, each a non-empty list of "
            'aliases (strings), e.g. [["Krasnov", "Prosecutor General"]]; fix it'
        )
    return [_dedupe(a.strip() for a in p) for p in v]


def _strings(rec: dict[str, Any], key: str, where: str) -> list[str]:
    v = rec.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError(f"{where}: '{key}' must be a list of strings, got {_kind(v)}; fix it")
    return _dedupe(x.strip() for x in v if x.strip())


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(v), type(v).__name__)


def _dedupe(xs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(xs))


# --------------------------------------------------------------------------- MultiHop-RAG


def _read_multihop(text: str, path: Path) -> list[GoldItem]:
    out: list[GoldItem] = []
    for i, (rec, lineno) in enumerate(_json_array_items(text, path)):
        where = f"{path}:{lineno} (query #{i})"
        if not isinstance(rec, dict):
            raise InputError(f"{where}: expected an object, got {_kind(rec)}")
        q = rec.get("query")
        if not isinstance(q, str) or not q.strip():
            raise InputError(f"{where}: missing 'query' (a non-empty string); fix the item")
        qtype = str(rec.get("question_type") or DEFAULT_TYPE).removesuffix("_query")
        ev_list = rec.get("evidence_list") or []
        if not isinstance(ev_list, list):
            raise InputError(f"{where}: 'evidence_list' must be a list; fix the item")
        facts: list[str] = []
        sources: list[str] = []
        for j, ev in enumerate(ev_list):
            if not isinstance(ev, dict) or not isinstance(ev.get("url"), str):
                raise InputError(f"{where}: evidence #{j} has no 'url'; fix the item")
            sources.append(evidence_doc_id(ev))
            if isinstance(ev.get("fact"), str) and ev["fact"].strip():
                facts.append(ev["fact"].strip())
        answer = rec.get("answer")
        null = qtype == "null" or not ev_list
        answers = [] if null or not isinstance(answer, str) or not answer.strip() else [answer]
        out.append(
            GoldItem(
                id=f"mh{i:04d}",
                question=" ".join(q.split()),
                answers=[a.strip() for a in answers],
                sources=_dedupe(sources),
                evidence=_dedupe(facts),
                type=qtype,
                line=lineno,
            )
        )
    return out


def evidence_doc_id(evidence: dict[str, Any]) -> str:
    """The document id ingesting corpus.json gives the article an evidence item cites."""
    return record_id({"url": evidence["url"], "title": evidence.get("title")})


def _json_array_items(text: str, path: Path) -> list[tuple[Any, int]]:
    """Items of a top-level JSON array with the line each starts on."""
    dec = json.JSONDecoder()

    counted = [0, 1]  # position up to which newlines are counted, and the line there

    def line_of(pos: int) -> int:  # positions only grow: count each newline once
        if pos < counted[0]:
            return text.count("\n", 0, pos) + 1
        counted[1] += text.count("\n", counted[0], pos)
        counted[0] = pos
        return counted[1]

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    pos = skip(0)
    if pos >= len(text) or text[pos] != "[":
        raise InputError(
            f"{path}:{line_of(pos)}: expected a JSON array of queries (MultiHop-RAG format); "
            "check --format"
        )
    pos = skip(pos + 1)
    out: list[tuple[Any, int]] = []
    if pos < len(text) and text[pos] == "]":
        return out
    while True:
        try:
            obj, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise InputError(
                f"{path}:{e.lineno}: invalid JSON ({e.msg}, column {e.colno}); fix the file"
            ) from None
        out.append((obj, line_of(pos)))
        pos = skip(end)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            break
        raise InputError(f"{path}:{line_of(pos)}: expected ',' or ']' in the array; fix the file")
    return out
