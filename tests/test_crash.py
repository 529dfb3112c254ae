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
from rag.store import current_generation, open_index

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
    assert {r["id"] for r in rows} == set(idx.manifest["documents"])
    assert sum(r["chunks"] for r in rows) == len(chunks)
    assert np.allclose(np.linalg.norm(np.asarray(idx.vectors), axis=1), 1.0, atol=1e-3)
    for c in chunks[:: max(1, len(chunks) // 20)]:
        assert idx.doc_text(c.doc_id)[c.start : c.end] == c.text
    idx.close()
    return len(rows)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    ids = _corpus(corpus)
    index = tmp_path / "index"
    env = {**os.environ, "RAG_INDEX__DIR": str(index), "RAG_INDEX__COMMIT_EVERY_S": "0"}
    cmd = [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "-q"]
    # how long an uninterrupted ingest takes here (into another index): kills land within it
    t0 = time.perf_counter()
    full = subprocess.run(
        cmd,
        env={**env, "RAG_INDEX__DIR": str(tmp_path / "timing")},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert full.returncode == 0, full.stderr
    duration = time.perf_counter() - t0
    rng = random.Random(1234)
    published, survived = 0, 0
    for _ in range(KILLS):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.2, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if current_generation(index) is None:
            continue  # killed before its first publication: there is no index yet, and no loss
        n = _check_consistent(index)
        assert n >= published  # what was published stays published
        published = n
        answer = api.Pipeline(settings_for(index)).ask("What did the article report?")
        assert answer.hits
        survived += 1
    assert survived >= 5, "kills should also land after a first publication"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert _check_consistent(index) == N_DOCS
    assert {r["id"] for r in open_index(index).doc_rows()} == set(ids)
    leftovers = [p.name for p in index.iterdir() if ".tmp-" in p.name]
    assert not leftovers
    print(
        f"\ncrash test: {KILLS} SIGKILLs within a {duration:.1f} s ingest, {survived} after "
        "a publication; the index loaded and answered after each, and the rerun completed"
    )
