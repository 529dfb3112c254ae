"""Fault injection: each file kind of a generation truncated, bit-flipped and deleted.

For every damage, `rag ask`, `rag docs`, `rag ingest`, `rag index verify` and
`rag index repair` run on it (in process, through `rag.cli.main`, so an uncaught
exception fails the test; one case also through the console script). Expected, as
README documents: no traceback; exit 3 with one line naming the index, the damaged file
and `rag index repair`; a failed ingest changes nothing; verify names the file and says
the previous generation is intact; repair keeps the damaged generation aside, goes back
to the previous one, says what that loses, and the index answers the demo question.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import api
from rag.config import load_settings
from rag.resources import articles_dir
from rag.store import current_generation, generations

from .conftest import write
from .test_cli import one_line_error, run

DEMO = "why did Russia lift the ban"
EXTRA_ID = "kazakhstan-corridor"
EXTRA = """---
title: Kazakhstan weighs a rail corridor through Afghanistan
source: Wire
published_at: 2024-06-01
---

Kazakhstan's transport ministry said on Saturday that it was studying a rail corridor
through Afghanistan to reach ports in Pakistan. Officials expect freight volumes to grow
once the security situation allows construction to begin.
"""
# every file kind of a generation, in the segment gen-000002 added; FAISS exists because
# the test index is built IVF
KINDS = {
    "vectors": "seg-000002/vectors.npy",
    "sentences": "seg-000002/sentences.npy",
    "faiss": "seg-000002/index.faiss",
    "sqlite": "seg-000002/chunks.sqlite",
    "lexical": "seg-000002/lexical/chunks/rows.npy",
    "manifest": "manifest.json",
    "CURRENT": "CURRENT",
}
DAMAGES = ("truncate", "flip", "delete")


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory: pytest.TempPathFactory, encoder: object) -> Path:
    """gen-000001: the bundled articles; gen-000002 adds one more (IVF vector index)."""
    root = tmp_path_factory.mktemp("damage")
    corpus = root / "corpus"
    shutil.copytree(articles_dir(), corpus)
    index = root / "index"
    s = load_settings(index={"dir": index, "exact_up_to": 0})
    api.ingest([corpus], s, encoder=encoder)
    write(corpus / f"{EXTRA_ID}.md", EXTRA)
    api.ingest([corpus], s, encoder=encoder)
    assert generations(index) == ["gen-000001", "gen-000002"]
    assert (index / "gen-000002" / "seg-000002" / "index.faiss").is_file()
    return index


def damage(index: Path, kind: str, how: str) -> str:
    """Damage one file of the live generation; returns its path relative to the index."""
    gen = current_generation(index)
    newest = sorted(p.name for p in (index / str(gen)).glob("seg-*"))[-1:] or ["seg-000002"]
    rel = KINDS[kind] if kind == "CURRENT" else f"{gen}/{KINDS[kind]}"
    rel = rel.replace("seg-000002", newest[0])  # the live generation's newest segment
    f = index / rel
    data = f.read_bytes()
    if how == "truncate":
        f.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        b = bytearray(data)
        # CURRENT: the last digit's low bit (gen-000002 → gen-000003, a valid name that
        # does not exist); other files: one bit in the middle
        i = len(data.rstrip()) - 1 if kind == "CURRENT" else len(b) // 2
        if f.suffix == ".npy":  # in the middle of the array's data, past its header
            start = np.load(f, mmap_mode="r").offset
            i = start + (len(b) - start) // 2
        b[i] ^= 0x01 if kind == "CURRENT" else 0x10
        f.write_bytes(bytes(b))
    else:
        f.unlink()
    return rel


def snapshot(index: Path) -> dict[str, str]:
    return {
        p.relative_to(index).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_damaged_file_is_named_and_repaired(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    two_generations: Path,
    tmp_path: Path,
    kind: str,
    how: str,
) -> None:
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    rel = damage(index, kind, how)
    named = "CURRENT" if kind == "CURRENT" else rel
    monkeypatch.setenv("RAG_INDEX__DIR", str(index))
    ix = ("--index", str(index))

    # ask and docs: exit 3, one line naming the index, the file and the fix
    for argv in (("ask", DEMO, *ix), ("docs", *ix)):
        code, _out, err = run(capsys, *argv)
        line = one_line_error(err)
        assert code == 3, (argv, err)
        assert str(index) in line and named in line and "rag index repair" in line, line

    # ingest refuses to build on it and changes nothing
    before = snapshot(index)
    code, _out, err = run(capsys, "ingest", "-q", *ix)
    assert code == 3 and "rag index repair" in one_line_error(err)
    assert snapshot(index) == before

    # verify names the damaged file and the intact previous generation
    code, out, err = run(capsys, "index", "verify", *ix)
    assert code == 3 and not err, err
    assert "DAMAGED" in out
    if kind == "CURRENT":
        assert "CURRENT" in out and "gen-000002 (" in out
    else:
        damaged_line = next(x for x in out.splitlines() if x.startswith("    "))
        assert KINDS[kind] in damaged_line
        assert "gen-000001 (previous" in out and "intact" in out
    report = json.loads(run(capsys, "index", "verify", "--json", *ix)[1])
    assert report["damaged"] is True

    # repair: damaged generation kept aside, back to the newest intact one, what is lost
    code, out, err = run(capsys, "index", "repair", *ix)
    assert code == 0 and not err, err
    if kind == "CURRENT":  # every generation is intact: CURRENT goes to the newest
        assert current_generation(index) == "gen-000002"
        assert not list(index.glob("damaged-*"))
    else:
        assert current_generation(index) == "gen-000001"
        assert (index / "damaged-gen-000002").is_dir()  # kept, not deleted
        assert "damaged-gen-000002" in out and "lost:" in out
        if kind == "sqlite":  # its names are in the damaged file: counted
            assert "1 document added" in out and KINDS[kind] in out
        elif kind != "manifest":
            assert EXTRA_ID in out  # the document gen-000002 had added
    code, out, _ = run(capsys, "index", "verify", *ix)
    assert code == 0 and out.strip().endswith("intact")

    # and the repaired index answers the demo question, with citations
    code, out, err = run(capsys, "ask", DEMO, "--json", *ix)
    assert code == 0, err
    answer = json.loads(out)
    assert not answer["abstained"] and answer["citations"]


@pytest.mark.parametrize("kind", ["vectors", "sentences", "faiss", "sqlite", "lexical"])
def test_cheap_checks_only_never_crash(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    two_generations: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    """With index.verify_on_open_mb=0 a flipped bit inside a file's data passes the cheap
    checks: `rag ask` answers (0) or finds the damage when it reads it (3), never a
    traceback; `rag index verify` finds it."""
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    rel = damage(index, kind, "flip")
    monkeypatch.setenv("RAG_INDEX__VERIFY_ON_OPEN_MB", "0")
    code, _out, err = run(capsys, "ask", DEMO, "--index", str(index))
    assert code in (0, 3), err
    if code == 3:
        assert rel in one_line_error(err)
    code, out, _ = run(capsys, "index", "verify", "--index", str(index))
    assert code == 3 and "does not match its checksum" in out and KINDS[kind] in out


def test_no_intact_generation_rebuilds_from_recorded_inputs(
    capsys: pytest.CaptureFixture[str], two_generations: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    for gen in ("gen-000001", "gen-000002"):
        (index / gen / "seg-000001" / "vectors.npy").write_bytes(b"\x93NUMPY")
    code, out, err = run(capsys, "index", "verify", "--index", str(index))
    assert code == 3 and "rebuilds the index from its recorded inputs" in out
    code, out, err = run(capsys, "index", "repair", "--index", str(index))
    assert code == 0, err
    assert "rebuilding from" in out and "damaged-gen-000001" in out and "damaged-gen-000002" in out
    assert "3 documents" in out  # the recorded folder holds all three articles
    code, out, _ = run(capsys, "ask", DEMO, "--json", "--index", str(index))
    assert code == 0 and json.loads(out)["citations"]


def test_no_readable_manifest_says_to_name_the_inputs(
    capsys: pytest.CaptureFixture[str], two_generations: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    for gen in ("gen-000001", "gen-000002"):
        (index / gen / "manifest.json").unlink()
    code, out, err = run(capsys, "index", "repair", "--index", str(index))
    assert code == 3 and "kept damaged gen-000002 aside as damaged-gen-000002" in out
    assert "none records its inputs" in one_line_error(err) and "rag ingest PATH" in err
    assert sorted(p.name for p in index.glob("damaged-*")) == [
        "damaged-gen-000001",
        "damaged-gen-000002",
    ]
    assert current_generation(index) is None
    code, _out, err = run(capsys, "ingest", str(articles_dir()), "-q", "--index", str(index))
    assert code == 0, err  # the named inputs build a fresh index beside the kept ones
    assert run(capsys, "index", "verify", "--index", str(index))[0] == 0


def test_repair_of_an_intact_index_changes_nothing(
    capsys: pytest.CaptureFixture[str], two_generations: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    before = snapshot(index)
    code, out, _ = run(capsys, "index", "repair", "--index", str(index))
    assert code == 0 and "nothing to repair" in out
    assert snapshot(index) == before


def test_damaged_previous_generation_is_reported_and_set_aside(
    capsys: pytest.CaptureFixture[str], two_generations: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    (index / "gen-000001" / "seg-000001" / "sentences.npy").unlink()
    code, out, _ = run(capsys, "ask", DEMO, "--index", str(index))
    assert code == 0  # the live generation is intact
    code, out, _ = run(capsys, "index", "verify", "--index", str(index))
    assert code == 3 and "gen-000001 (previous" in out and "the live generation is intact" in out
    code, out, _ = run(capsys, "index", "repair", "--index", str(index))
    assert code == 0 and current_generation(index) == "gen-000002"
    assert (index / "damaged-gen-000001").is_dir()


def test_console_script_prints_one_line_and_no_traceback(
    two_generations: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    damage(index, "vectors", "truncate")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    for argv in (["ask", DEMO], ["ingest"], ["index", "verify"], ["index", "repair"]):
        p = subprocess.run(
            [sys.executable, "-m", "rag.cli", *argv, "--index", str(index)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert "Traceback" not in p.stderr, p.stderr
        assert p.returncode == (0 if argv[-1] == "repair" else 3), (argv, p.stderr)


def test_damage_is_never_carried_forward_under_fresh_checksums(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    two_generations: Path,
    tmp_path: Path,
) -> None:
    """Even when opening skips the hashing (a large index): an ingest keeps the segments it
    does not change as they are, with their recorded checksums (verify still finds the
    flipped bit in the new generation too), and a merge checks every byte before it
    rewrites a segment: `rag index compact` refuses, naming the file."""
    index = tmp_path / "index"
    shutil.copytree(two_generations, index)
    rel = damage(index, "vectors", "flip")
    monkeypatch.setenv("RAG_INDEX__VERIFY_ON_OPEN_MB", "0")
    extra = write(tmp_path / "more" / "note.md", "# A note\n\nThe corridor opened in May.\n")
    code, _out, err = run(capsys, "ingest", str(extra.parent), "-q", "--index", str(index))
    assert code == 0, err
    assert current_generation(index) == "gen-000003"
    code, out, _ = run(capsys, "index", "verify", "--index", str(index))
    bad = [x.strip() for x in out.splitlines() if x.startswith("    ")]
    assert code == 3 and bad == [f"{KINDS['vectors']} does not match its checksum (changed "
                                 "after it was written)"] * 2, out  # fmt: skip
    before = snapshot(index)
    code, _out, err = run(capsys, "index", "compact", "--index", str(index))
    line = one_line_error(err)
    assert code == 3 and rel.replace("gen-000002", "gen-000003") in line, line
    assert "does not match its checksum" in line
    assert snapshot(index) == before
