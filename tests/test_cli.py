"""The `rag` command: output contracts, one-line errors, exit codes, index untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.store import current_generation

from .conftest import ROOT, write


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_ask_json_contract(capsys: pytest.CaptureFixture[str], bundled_index: Path) -> None:
    code, out, _ = run(
        capsys,
        "ask",
        "why did Russia lift the ban",
        "--index",
        str(bundled_index),
        "--json",
        "--top-k",
        "4",
    )
    assert code == 0
    d = json.loads(out)
    assert d["question"] == "why did Russia lift the ban" and d["model"] == "offline"
    assert isinstance(d["abstained"], bool) and len(d["hits"]) == 4
    for c in d["citations"]:
        assert set(c) >= {
            "n",
            "doc_id",
            "chunk_id",
            "title",
            "source",
            "url",
            "published_at",
            "start",
            "end",
            "text",
        }
        assert f"[{c['n']}]" in d["answer"]
    for h in d["hits"]:
        assert set(h) == {"rank", "doc_id", "chunk_id", "score", "text"}


def test_ask_prints_answer_then_sources(
    capsys: pytest.CaptureFixture[str], bundled_index: Path
) -> None:
    code, out, _ = run(capsys, "ask", "why did Russia lift the ban", "--index", str(bundled_index))
    assert code == 0
    answer, _, sources = out.partition("\nSources:\n")
    assert "[1]" in answer and sources.startswith("[1] ")
    assert "Taliban" in sources.splitlines()[0]


def test_docs_lists_documents(capsys: pytest.CaptureFixture[str], bundled_index: Path) -> None:
    code, out, _ = run(capsys, "docs", "--index", str(bundled_index), "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [
        "russia-lifts-ban-on-taliban",
        "why-russia-unbanned-the-taliban",
    ]
    keys = {"id", "title", "source", "published_at", "chunks", "flagged"}
    assert all(set(r) == keys and r["flagged"] == 0 for r in rows)
    assert all(r["chunks"] >= 1 for r in rows)


def test_first_ask_builds_the_configured_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_INDEX__CORPUS", json.dumps([str(ROOT / "data" / "articles")]))
    code, out, err = run(capsys, "ask", "why did Russia lift the ban")
    assert code == 0 and "[1]" in out and "\nSources:\n[1] " in out
    assert one_line_error(err).startswith("No index at")
    assert current_generation(tmp_path / "index") is not None


@pytest.mark.parametrize(
    ("question", "needle"),
    [("", "empty question"), ("   ", "empty question"), ("why " * 600, "the limit is 2000")],
)
def test_bad_questions(
    capsys: pytest.CaptureFixture[str], bundled_index: Path, question: str, needle: str
) -> None:
    code, out, err = run(capsys, "ask", question, "--index", str(bundled_index))
    assert code == 2 and out == ""
    assert needle in one_line_error(err)


def test_top_k_out_of_bounds(capsys: pytest.CaptureFixture[str], bundled_index: Path) -> None:
    code, _, err = run(capsys, "ask", "why?", "--index", str(bundled_index), "--top-k", "500")
    assert code == 2 and "top-k 500 is out of range" in one_line_error(err)


def test_missing_path_leaves_the_index_untouched(
    capsys: pytest.CaptureFixture[str], index_copy: Path
) -> None:
    gen = current_generation(index_copy)
    code, _, err = run(capsys, "ingest", str(index_copy / "nope"), "--index", str(index_copy))
    assert code == 2 and "path not found" in one_line_error(err)
    assert current_generation(index_copy) == gen


def test_too_many_files_is_one_line_and_the_index_untouched(
    capsys: pytest.CaptureFixture[str], index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = index_copy.parent / "many"
    for i in range(6):
        write(d / f"a{i}.md", f"# A{i}\n\nText {i}.")
    gen = current_generation(index_copy)
    monkeypatch.setenv("RAG_LIMITS__MAX_FILES", "5")
    code, _, err = run(capsys, "ingest", str(d), "--index", str(index_copy))
    line = one_line_error(err)
    assert code == 2 and "more than 5 files" in line and "RAG_LIMITS__MAX_FILES" in line
    assert current_generation(index_copy) == gen


def test_a_file_over_the_size_limit_is_skipped_naming_the_setting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "in"
    write(d / "ok.md", "# Tea\n\nGreen tea is popular in Japan.")
    write(d / "big.txt", "Big\n" + "word " * 250_000)
    monkeypatch.setenv("RAG_LIMITS__MAX_FILE_MB", "1")
    code, out, err = run(capsys, "ingest", str(d), "--index", str(tmp_path / "ix"), "-q")
    assert code == 0 and "1 added" in out and "1 skipped" in out
    assert "big.txt: larger than 1 MB" in err and "RAG_LIMITS__MAX_FILE_MB" in err


def test_bad_files_are_skipped_and_the_rest_ingested(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    d = tmp_path / "in"
    write(d / "ok.md", "# Tea\n\nGreen tea is popular in Japan.")
    write(d / "bin.txt", b"\x00\xff\x00" * 50)
    write(d / "latin.txt", "na\xefve".encode("latin-1"))
    write(d / "empty.txt", "")
    code, out, err = run(capsys, "ingest", str(d), "--index", str(tmp_path / "ix"), "-q")
    assert code == 0 and "2 added" in out and "2 skipped" in out  # Latin-1 is decoded
    assert "bin.txt: binary" in err and "empty.txt: empty" in err
    assert "warning: " in err and "latin.txt: not UTF-8: read as" in err


def test_missing_index_named_explicitly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "ask", "why?", "--index", str(tmp_path / "none"))
    assert code == 1 and "no index at" in one_line_error(err)


def test_index_with_another_embedding_model(
    capsys: pytest.CaptureFixture[str], index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBEDDING__MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    code, _, err = run(capsys, "ask", "why?", "--index", str(index_copy))
    line = one_line_error(err)
    assert code == 1 and "embedding_model" in line and "rag ingest --rebuild" in line


def test_bad_setting_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "many")
    code, _, err = run(capsys, "docs")
    assert code == 2 and "RAG_RETRIEVAL__TOP_K" in one_line_error(err)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ask"], "Missing argument 'question'"),
        (["ask", "why?", "--bogus"], "No such option: --bogus"),
        (["ask", "why?", "--top-k", "many"], "Invalid value for '--top-k'"),
        (["nope"], "No such command 'nope'"),
    ],
)
def test_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    line = one_line_error(err)
    assert code == 2 and out == ""
    assert needle in line and "--help" in line


def test_ingest_without_paths_rereads_what_the_index_was_built_from(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Not the bundled articles: `rag ingest --prune --index X` re-reads X's own inputs;
    a plain re-ingest says which stored documents lost their file."""
    docs, ix = tmp_path / "mine", str(tmp_path / "ix")
    write(docs / "a.md", "# Bridge\n\nThe Quillon bridge was designed by Ada Brook in 1901.")
    write(docs / "b.md", "# Festival\n\nThe Zorblat Festival returned on Friday.")
    code, out, _ = run(capsys, "ingest", str(docs), "--index", ix, "-q")
    assert code == 0 and "2 added" in out
    (docs / "b.md").unlink()
    code, out, err = run(capsys, "ingest", "--index", ix, "-q")
    assert code == 0 and "0 added" in out and "1 unchanged" in out
    assert "1 stored document(s) whose file is gone (b)" in err and "--prune" in err
    code, out, _ = run(capsys, "ingest", "--prune", "--index", ix, "-q")
    assert code == 0 and "0 added" in out and "1 removed" in out
    code, out, _ = run(capsys, "docs", "--index", ix, "--json")
    assert [d["id"] for d in json.loads(out)] == ["a"]
    code, out, _ = run(capsys, "ingest", "--rebuild", "--index", ix, "-q")  # its own inputs
    assert code == 0 and "1 added" in out
    code, out, _ = run(capsys, "docs", "--index", ix, "--json")
    assert [d["id"] for d in json.loads(out)] == ["a"]


def test_an_index_with_no_documents_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path / "in" / "x.txt", b"\x00\x01" * 100)
    ix = str(tmp_path / "ix")
    code, out, _ = run(capsys, "ingest", str(tmp_path / "in"), "--index", ix, "-q")
    assert code == 0 and "1 skipped" in out
    code, _, err = run(capsys, "ask", "anything?", "--index", ix)
    line = one_line_error(err)
    assert code == 1 and "holds no documents yet" in line and "rag ingest PATH" in line
