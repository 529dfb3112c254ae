"""`rag ingest --ray`: reading, chunking and embedding on Ray Data (a local Ray here) give
the same index as a plain ingest: the same documents, chunk ids, texts, spans, vectors
and sentence vectors, bit for bit; an incremental run on Ray embeds only what changed."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.store import open_index

from .conftest import MULTIHOP, ROOT, write
from .test_cli import run

if not os.environ.get("CI"):  # CI installs the dev extra, which has Ray: never skipped there
    pytest.importorskip("ray", reason='Ray is the "ray" extra (pip install "rag[ray]")')


@pytest.fixture
def local_ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local Ray of 2 CPUs on 127.0.0.1, no dashboard; `rag ingest --ray` joins it (and
    leaves it running) instead of starting its own."""
    import ray

    # as rag.ingest.ray_run.loopback_only, undone after the test
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        yield
    finally:
        ray.shutdown()


def _corpus(folder: Path, n: int = 12) -> Path:
    shutil.copytree(ROOT / "data" / "articles", folder)
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))[:n]
    for i, r in enumerate(records):
        write(folder / "news" / f"story-{i:02d}.md", f"# {r['title']}\n\n{r['body'][:4000]}\n")
    write(folder / "feed.jsonl", "\n".join(json.dumps(
        {"id": f"wire-{i}", "title": r["title"], "text": r["body"][:1500], "source": r["source"]}
    ) for i, r in enumerate(records[:3])) + "\n")  # fmt: skip
    # which of two documents keeps a taken id depends on reading order; an unknown type
    write(folder / "wire.jsonl", json.dumps({"id": "story-01", "title": "Clash", "text": (
        "A wire story whose id is a file's. " * 5)}) + "\n")  # fmt: skip
    write(folder / "notes.xyz", "not an article\n")
    return folder


def _said(out: str, err: str) -> str:
    """What an ingest printed, without its timing."""
    return re.sub(r" in [\d.]+ s", "", out + err)


def _contents(index: Path) -> dict[str, Any]:
    """An index's documents and chunks, chunks keyed by id: the order of rows follows the
    segments, which follow when each ingest happened to commit (`commit_every_s`)."""
    idx = open_index(index)
    chunks = idx.all_chunks()
    vectors = np.asarray(idx.vectors)
    sentences = idx.sentence_vectors_at(range(idx.n_chunks))
    assert vectors.dtype == np.float32 and len(chunks) == len(vectors) == len(sentences)
    return {
        "docs": {d: (m.title, m.source, m.published_at) for d, m in idx.docs().items()},
        "hashes": {d: r["hash"] for d, r in idx.documents().items()},
        "chunks": {c.id: (c.doc_id, c.start, c.end, c.text, c.sentences) for c in chunks},
        "vectors": {c.id: v for c, v in zip(chunks, vectors, strict=True)},
        "sentences": {c.id: sv for c, sv in zip(chunks, sentences, strict=True)},
    }


def _same_vectors(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Bit for bit, not just close."""
    return a.keys() == b.keys() and all(
        a[k] is not None and b[k] is not None and np.array_equal(a[k], b[k]) for k in a
    )


def test_ray_ingest_gives_the_plain_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_ray: None
) -> None:
    corpus = _corpus(tmp_path / "corpus")
    plain, on_ray = tmp_path / "plain", tmp_path / "ray"
    capsys.readouterr()  # what Ray said when the fixture started it
    code, out, err = run(capsys, "ingest", str(corpus), "-q", "--index", str(plain))
    assert code == 0, err
    said = _said(out, err).replace(str(plain), "INDEX")
    code, out, err = run(capsys, "ingest", str(corpus), "-q", "--ray", "--index", str(on_ray))
    assert code == 0, err
    assert "18 added" in out and "1 skipped" in out, out
    assert "notes.xyz" in said and "'story-01' is taken" in said, said
    assert _said(out, err).replace(str(on_ray), "INDEX") == said  # the same skips, warnings
    a, b = _contents(plain), _contents(on_ray)
    assert a["docs"] == b["docs"] and a["hashes"] == b["hashes"]
    assert a["chunks"] == b["chunks"] and len(a["chunks"]) > 30
    assert _same_vectors(a["vectors"], b["vectors"])
    assert _same_vectors(a["sentences"], b["sentences"])

    # an edited file: on Ray too, only its chunks are embedded again
    f = corpus / "news" / "story-03.md"
    f.write_text(f.read_text() + "\nA closing line added later.\n")
    for index, extra in ((plain, ()), (on_ray, ("--ray",))):
        code, out, err = run(capsys, "ingest", str(corpus), "-q", *extra, "--index", str(index))
        assert code == 0 and "0 added, 1 updated, 17 unchanged" in out, (out, err)
    a, b = _contents(plain), _contents(on_ray)
    assert a["chunks"] == b["chunks"] and _same_vectors(a["vectors"], b["vectors"])
    assert _same_vectors(a["sentences"], b["sentences"])


def test_ray_address_is_optional_and_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.ingest.ray_flag import ray_address_given

    assert ray_address_given(["ingest", "--ray"]) == ["ingest", "--ray", "local"]
    assert ray_address_given(["ingest", "--ray", "docs/"]) == ["ingest", "--ray", "local", "docs/"]
    assert ray_address_given(["ingest", "x", "--ray", "auto"]) == ["ingest", "x", "--ray", "auto"]
    assert ray_address_given(["ingest", "--ray", "ray://h:10001", "x"])[2] == "ray://h:10001"
    assert ray_address_given(["ask", "--ray"]) == ["ask", "--ray"]
    corpus = write(tmp_path / "c" / "a.md", "# A\n\nSome text about trams.\n").parent
    # 127.0.0.1:9 (discard): nothing listens, the ingest fails in one line, nothing written
    code, _out, err = run(
        capsys, "ingest", str(corpus), "--ray", "127.0.0.1:9", "--index", str(tmp_path / "ix")
    )
    assert code != 0 and "Traceback" not in err
    assert "Ray cluster at 127.0.0.1:9" in err and not (tmp_path / "ix" / "CURRENT").exists()
