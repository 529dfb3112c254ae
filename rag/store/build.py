"""What a commit derives from a generation's chunk table and vectors: the FAISS index
(approximate ones only) and the BM25 arrays.

What it does not do: decide what goes into a generation (rag.store.writer).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.store.reader import IVF_NPROBE
from rag.types import DocMeta

if TYPE_CHECKING:
    import numpy as np


def _build_faiss(vectors: np.ndarray, path: Path, exact_up_to: int) -> dict[str, Any]:
    """Nothing to build up to `exact_up_to` vectors (a flat index is made at load, exact);
    above, an inverted-file index: √n lists, 16 probed per query (recall@10 ≈ 0.98 at 1M
    synthetic vectors in bench/scale.py). Trained on at most 64 vectors per list."""
    import math

    import numpy as np

    n, dim = vectors.shape
    if n <= exact_up_to:
        return {"type": "flat"}
    import faiss

    nlist = max(1, int(math.sqrt(n)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors
    if n > 64 * nlist:
        sample = vectors[np.random.default_rng(0).choice(n, 64 * nlist, replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    with open(path, "wb") as f:  # through Python, so a full disk raises OSError(ENOSPC)
        writer = faiss.PyCallbackIOWriter(f.write)
        faiss.write_index(index, writer)
        del writer
    return {"type": "ivf", "nlist": nlist, "nprobe": IVF_NPROBE}


def _build_lexical(db: sqlite3.Connection, folder: Path, *, header: bool) -> None:
    """BM25 over each chunk's terms (with its header when chunks carry one) and over
    each sentence's; rows in chunk order, so a score vector lines up with the vectors."""
    import numpy as np

    from rag.chunking import header_text
    from rag.lexical import build
    from rag.text import terms

    docs = {
        r[0]: (DocMeta(r[0], r[1], r[2], r[3], r[4]), r[5])
        for r in db.execute("SELECT id, title, source, url, published_at, text FROM docs")
    }
    heads = {d: terms(header_text(m)) if header else [] for d, (m, _) in docs.items()}
    chunk_terms: list[list[str]] = []
    sent_terms: list[list[str]] = []
    owner: list[int] = []
    rows = db.execute("SELECT pos, doc_id, text, sentences FROM chunks ORDER BY pos")
    for pos, doc_id, text, sentences in rows:
        chunk_terms.append(heads[doc_id] + terms(text))
        body = docs[doc_id][1]
        for a, b in json.loads(sentences):
            sent_terms.append(terms(body[a:b]))
            owner.append(pos)
    if not chunk_terms:
        return
    build(chunk_terms, folder / "chunks")
    build(sent_terms or [[]], folder / "sentences")
    np.save(folder / "sentence_owner.npy", np.array(owner or [0], dtype=np.int64))
