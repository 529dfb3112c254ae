"""Crash safety: `rag ingest` SIGKILLed at random moments never leaves a broken index."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import api
from rag.store import open_index

from .conftest import MULTIHOP, settings_for, write

N_DOCS = 30
KILLS = 20


def _corpus(root: Path) -> list[str]:
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))[:N_DOCS]
    ids = []
    for i, r in enumerate(records):
        doc_id = f"a{i:02d}"
        front = json.dumps(
            {"title": r["title"], "source": r["source"], "published_at": r["published_at"]},
            ensure_ascii=False,
        )
        # JSON is valid YAML: the front matter needs no escaping
        body = r["body"][:2500]  # a few chunks each: the test is about kills, not volume
        write(root / f"{doc_id}.md", f"---\n{front}\n---\n\n{body}\n")
        ids.append(doc_id)
    return ids


def _check_consistent(index: Path) -> int:
    """The live generation is complete and self-consistent; returns its document count."""
    idx = open_index(index)
    rows = idx.doc_rows()
    chunks = idx.all_chunks()
    assert len(chunks) == idx.n_chunks == idx.manifest["counts"]["chunks"]
    assert {r["id"] for r in rows} == set(idx.documents())
    assert sum(r["chunks"] for r in rows) == len(chunks)
    assert np.allclose(np.linalg.norm(np.asarray(idx.vectors), axis=1), 1.0, atol=1e-3)
    for c in chunks[:: max(1, len(chunks) // 20)]:
        assert idx.doc_text(c.doc_id)[c.start : c.end] == c.text
    idx.close()
    return len(rows)


def _touch(root: Path, ids: list[str], rng: random.Random, run: int) -> dict[str, str]:
    """Give three documents new text, so every run has something to embed and publish."""
    changed = {}
    for doc_id in rng.sample(ids, 3):
        f = root / f"{doc_id}.md"
        line = f"Update {run}: the agency revised its figures for {doc_id} on day {run}."
        f.write_text(f.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
        changed[doc_id] = line
    return changed


def _wait_for_commit(proc: subprocess.Popen[bytes], index: Path, timeout: float) -> bool:
    """Wait until the process starts writing a generation (its temporary folder appears);
    False if it exits first."""
    mark = f".tmp-{proc.pid}"
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            if any(p.name.endswith(mark) for p in index.iterdir()):
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    return False


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    """20 SIGKILLs: even ones at a random moment of the run, odd ones at a random moment
    after the run started writing a generation (waited for, so they land in or after a
    commit however loaded the machine is). A first generation is published before the
    kills, and each run has new text to embed, so every run really writes."""
    corpus = tmp_path / "corpus"
    ids = _corpus(corpus)
    index = tmp_path / "index"
    env = {**os.environ, "RAG_INDEX__DIR": str(index), "RAG_INDEX__COMMIT_EVERY_S": "0"}
    cmd = [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "-q"]
    # a first publication of a third of the corpus, timed: kills land within such a run
    hidden = tmp_path / "later"
    hidden.mkdir()
    for doc_id in ids[N_DOCS // 3 :]:
        (corpus / f"{doc_id}.md").rename(hidden / f"{doc_id}.md")
    t0 = time.perf_counter()
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    duration = time.perf_counter() - t0
    for f in hidden.iterdir():
        f.rename(corpus / f.name)
    published = _check_consistent(index)
    assert published == N_DOCS // 3
    rng = random.Random(1234)
    latest: dict[str, str] = {}
    in_commit = after_commit_began = 0
    for i in range(KILLS):
        if i:
            latest.update(_touch(corpus, ids, rng, i))
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if i % 2 == 0:
            time.sleep(rng.uniform(0.2, duration))
        elif _wait_for_commit(proc, index, timeout=600):
            after_commit_began += 1
            time.sleep(rng.uniform(0, 0.5))
        if any(".tmp-" in p.name for p in index.iterdir()):
            in_commit += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        n = _check_consistent(index)
        assert n >= published  # what was published stays published
        published = n
        answer = api.Pipeline(settings_for(index)).ask("What did the article report?")
        assert answer.hits
    assert after_commit_began == KILLS // 2, "every odd run should have begun a commit"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert _check_consistent(index) == N_DOCS
    idx = open_index(index)
    assert {r["id"] for r in idx.doc_rows()} == set(ids)
    for doc_id, line in latest.items():  # the last text of every touched document
        assert line in (idx.doc_text(doc_id) or "")
    leftovers = [p.name for p in index.iterdir() if ".tmp-" in p.name]
    assert not leftovers
    print(
        f"\ncrash test: {KILLS} SIGKILLs within {duration:.1f} s ingests, "
        f"{after_commit_began} after a commit began, {in_commit} while a temporary generation "
        "existed; the index loaded and answered after each, and the rerun completed"
    )
