"""Question → ranked Hits from a stored index.

Dense search: the question is embedded with the index's encoder and the nearest chunk
vectors (cosine; the vectors are normalised, so inner product) come from FAISS. The
seam for lexical search and fusion is `Retriever.search`, which every face calls.
What it does not do: load indexes or models (the caller passes them in).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.embed import Encoder
from rag.store import StoredIndex
from rag.types import Hit

if TYPE_CHECKING:
    import numpy as np


class Retriever:
    def __init__(self, index: StoredIndex, encoder: Encoder) -> None:
        self.index = index
        self.encoder = encoder
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # question → vector
        self._lock = threading.Lock()

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors; the last few are remembered (the answerer asks for them again)."""
        import numpy as np

        with self._lock:
            missing = [q for q in dict.fromkeys(queries) if q not in self._recent]
        if missing:
            vecs = self.encoder.encode(missing, batch_size=64)
            with self._lock:
                for q, v in zip(missing, vecs, strict=True):
                    self._recent[q] = v
                while len(self._recent) > 256:
                    self._recent.popitem(last=False)
        with self._lock:
            return np.stack([self._recent[q] for q in queries])

    def search(self, query: str, k: int) -> list[Hit]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top-k hits for each query; queries are embedded and searched in one batch."""
        if self.index.n_chunks == 0 or not queries:
            return [[] for _ in queries]
        qv = self.embed_queries(queries)
        scores, positions = self.index.faiss_index().search(qv, min(k, self.index.n_chunks))
        docs = self.index.docs()
        out: list[list[Hit]] = []
        for row_scores, row_pos in zip(scores, positions, strict=True):
            keep = [(float(s), int(p)) for s, p in zip(row_scores, row_pos, strict=True) if p >= 0]
            chunks = self.index.chunks_at([p for _, p in keep])
            sents = self.index.sentence_vectors_at([p for _, p in keep])
            out.append(
                [
                    Hit(chunk=c, doc=docs[c.doc_id], score=s, rank=r, dense=s, sentence_vectors=v)
                    for r, ((s, _), c, v) in enumerate(zip(keep, chunks, sents, strict=True), 1)
                ]
            )
        return out
