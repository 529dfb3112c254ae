"""Bad files: generated ones are skipped or ingested with a clear warning, never a crash.

Two parts. A property test (hypothesis) writes arbitrary bytes and arbitrary text under
every supported suffix and reads them: `read_paths` never raises, and what it keeps is a
proper document whose chunks have exact spans. Then a generated folder of every kind of
hostile file named in the hardening issue goes through `rag ingest` as a user runs it:
exit 0, one line per skipped or doubtful file naming it and the reason, every good
document stored and answerable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking import Chunker, ChunkParams
from rag.ingest import SUPPORTED, read_paths
from rag.store import open_index

from .conftest import write
from .news_files import make_scanned_pdf

SUFFIXES = sorted(SUPPORTED)
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def chunker(encoder: Any) -> Chunker:
    return Chunker(encoder.counter(), ChunkParams(max_tokens=256, overlap_tokens=32))


def _read_and_chunk(folder: Path, chunker: Chunker) -> None:
    r = read_paths([folder], max_file_mb=1, max_files=100)
    assert r.files == len(list(folder.iterdir()))
    for x in r.skipped + r.warnings:
        assert x.where and x.reason and "\n" not in x.reason
    for d in r.documents:
        assert d.id and d.title.strip() and d.text.strip() and d.hash
        assert "\u200b" not in d.text and "\ufeff" not in d.text
        for c in chunker.chunk(d):
            assert d.text[c.start : c.end] == c.text


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=600)
_pieces = st.sampled_from(
    [
        "---\n",
        "---\ntitle: [x\n---\n",
        "---\n- a\n- b\n---\n",
        "---\ntitle: 'ok'\npublished_at: 2024-13-45\n---\n",
        "# Heading\n",
        "<html><body><article><p>",
        "</div>" * 5,
        "<div>" * 50,
        '{"title": "t", "body": ',
        '[{"body": "x"}, 3, null, {"id": "", "text": "y"}]',
        '{"url": "https://x.example/a?b#c", "content": "z"}\n{bad\n',
        "\u200b\u200c\u200d\u2060\ufeff",
        "\u202e\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627\u202c",
        "\x00",
        "\r\n",
        "\x1b[31m",
    ]
)


@FUZZ_SETTINGS
@given(st.sampled_from(SUFFIXES), st.lists(st.one_of(_text, _pieces), max_size=12))
def test_any_text_under_any_suffix_reads_without_crashing(
    tmp_path_factory: pytest.TempPathFactory, chunker: Chunker, suffix: str, parts: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("fuzz-text")
    write(folder / f"f{suffix}", "".join(parts))
    _read_and_chunk(folder, chunker)


@FUZZ_SETTINGS
@given(st.sampled_from(SUFFIXES), st.binary(max_size=2000))
def test_any_bytes_under_any_suffix_read_without_crashing(
    tmp_path_factory: pytest.TempPathFactory, chunker: Chunker, suffix: str, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("fuzz-bytes")
    write(folder / f"f{suffix}", data)
    _read_and_chunk(folder, chunker)


# --------------------------------------------------------------------------- a hostile folder

GOOD = {
    "good-bridge": "# The bridge report\n\nThe new bridge over the Elbe opened on Thursday.\n",
    "good-rtl": (
        "# Zero-width and right-to-left\n\n"
        "The mayor\u200b of Haifa\u200d said \u202e\u05e9\u05dc\u05d5\u05dd\u202c that the "
        "harbour\ufeff tunnel will open on 4 May 2026.\n"
    ),
}


# file → (content, what ingest must say about it)
HOSTILE: dict[str, tuple[str | bytes, str]] = {
    "empty.md": ("", "empty file"),
    "blank.txt": (" \n\t\n", "empty file"),
    "binary.txt": (bytes(range(256)) * 64, "binary file"),
    "latin1.md": ("# Caf\xe9\n\nd\xe9j\xe0 vu".encode("latin-1"), "not UTF-8: read as"),
    "broken.pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n", "not a readable PDF"),
    "table.csv": ("a,b\n1,2\n", "unsupported type .csv"),
    "nested.html": (
        "<html><body>" + "<div>" * 200_000 + "<p>Deep inside, the reactor was shut down "
        "safely.</p>" + "</div>" * 200_000 + "</body></html>",
        "nested more than 512 elements deep",
    ),
    "script-only.html": (
        "<html><body><script>alert(1)</script></body></html>",
        "HTML page with no text",
    ),
    "no-close.md": (
        "---\ntitle: Never closed\n\nThe council met on Monday.\n",
        "front matter has no closing '---'",
    ),
    "bad-yaml.md": (
        "---\ntitle: [unclosed\n---\n\nThe ferry resumed service.\n",
        "front matter ignored",
    ),
    "list-yaml.md": ("---\n- a\n- b\n---\n\nThe zoo welcomed a panda.\n", "front matter ignored"),
    "broken.json": ('[{"title": "A", "body": "text"', "invalid JSON"),
    "scalar.json": ("42", "neither a record nor a list"),
    "title-only.md": ("# Only a title\n", "no text besides the title"),
}


def hostile_folder(root: Path) -> dict[str, str]:
    """Writes the hostile corpus; returns file name → what ingest must say about it."""
    for name, text in GOOD.items():
        write(root / f"{name}.md", text)
    expect: dict[str, str] = {}
    for name, (content, reason) in HOSTILE.items():
        write(root / name, content)
        expect[name] = reason
    # ≥ 50 MB: over the default limit, skipped without being read
    with open(root / "huge.txt", "wb") as f:
        f.write(b"Huge\n")
        line = b"All work and no play makes a dull archive. " * 24 + b"\n"
        for _ in range(51 * 1024 * 1024 // len(line) + 1):
            f.write(line)
    expect["huge.txt"] = "larger than 50 MB"
    write(
        root / "mixed.jsonl",
        '{"id": "rec-1", "title": "Rail strike", "body": "Train drivers walked out."}\n'
        "{not json\n"
        "[1, 2]\n"
        '{"id": "rec-2", "title": "No body"}\n'
        '{"id": "rec-1", "title": "Same id", "body": "A second record reuses rec-1."}\n',
    )
    expect["mixed.jsonl:2"] = "invalid JSON line"
    expect["mixed.jsonl:3"] = "not a JSON object"
    expect["mixed.jsonl:4"] = "record has no text"
    expect["mixed.jsonl:5"] = "is taken by"
    write(root / "a" / "dup.md", "# Dup A\n\nThe first dup article.\n")
    write(root / "b" / "dup.md", "# Dup B\n\nThe second dup article.\n")
    expect["dup.md"] = "is taken by"
    (root / "folder.md").mkdir()  # a directory with a supported suffix is not a file
    make_scanned_pdf(root / "scan.pdf")
    expect["scan.pdf"] = "no text layer"
    return expect


@pytest.mark.slow
def test_rag_ingest_of_a_hostile_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    expect = hostile_folder(corpus)
    index = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_INDEX__DIR"] = str(index)
    p = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.splitlines()
    for where, reason in expect.items():
        hits = [ln for ln in lines if where in ln and reason in ln]
        assert hits, f"no line says {reason!r} about {where}:\n{p.stderr}"
    assert all(ln.startswith(("skipped ", "warning: ")) for ln in lines), p.stderr
    idx = open_index(index)
    ids = {r["id"] for r in idx.doc_rows()}
    expected_ids = {
        "good-bridge", "good-rtl", "nested", "no-close", "bad-yaml", "list-yaml",
        "rec-1", "rec-1-2", "dup", "b-dup", "latin1",
    }  # fmt: skip
    assert ids == expected_ids, ids
    rtl = idx.doc_text("good-rtl") or ""
    assert "\u200b" not in rtl and "\ufeff" not in rtl and "\u05e9\u05dc\u05d5\u05dd" in rtl
    assert "reactor was shut down" in (idx.doc_text("nested") or "")
    for c in idx.all_chunks():
        assert idx.doc_text(c.doc_id)[c.start : c.end] == c.text  # type: ignore[index]
    summary = p.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{len(expected_ids)} added, 0 updated"), summary
    ask = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "When will the harbour tunnel open?", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ask.returncode == 0, ask.stderr
    out = json.loads(ask.stdout)
    assert not out["abstained"] and out["citations"][0]["doc_id"] == "good-rtl", out
