"""Question → ranked Hits from a stored index.

`Retriever.search` is what every face calls. The ranking is `rag.search` (hybrid BM25 +
dense with metadata, sub-queries and a learned reranker; plain FAISS top-k with
`retrieval.mode = "dense"`), optionally reordered by a cross-encoder. Query vectors are
remembered (the offline answerer asks for them again). What it does not do: load
indexes or models (the caller passes them in).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.config import RetrievalSettings
from rag.embed import Encoder
from rag.search import Searcher
from rag.store import StoredIndex
from rag.types import Hit

if TYPE_CHECKING:
    import numpy as np


class Retriever:
    def __init__(
        self, index: StoredIndex, encoder: Encoder, cfg: RetrievalSettings | None = None
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.cfg = cfg or RetrievalSettings()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # question → vector
        self._lock = threading.Lock()
        self.searcher = Searcher(index, self.embed_queries, self.cfg)
        self._cross: object | None = None

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors; the last few are remembered (the answerer asks for them again)."""
        import numpy as np

        with self._lock:
            found = {q: self._recent[q] for q in dict.fromkeys(queries) if q in self._recent}
        missing = [q for q in dict.fromkeys(queries) if q not in found]
        if missing:
            # one at a time: int8 activations are quantised per batch, so a batched
            # question's vector would depend on its neighbours (cosine down to 0.986);
            # alone it is the same in `rag ask`, the chat and `rag eval`, and faster
            vecs = self.encoder.encode(missing, batch_size=1)
            found.update(zip(missing, vecs, strict=True))
            with self._lock:
                for q, v in zip(missing, vecs, strict=True):
                    self._recent[q] = v
                while len(self._recent) > 256:
                    self._recent.popitem(last=False)
        return np.stack([found[q] for q in queries])

    def knows_term(self, term: str) -> bool:
        """Does some indexed passage hold this term (`rag.text.terms`)? True without a
        lexical index (nothing to tell)."""
        lex = self.searcher.lex
        return lex is None or term in lex.vocab

    def knows_source(self, name: str) -> bool:
        """Does the index hold articles from this outlet (or a short form of it)?"""
        return self.searcher.parser.knows(name)

    def search(self, query: str, k: int) -> list[Hit]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top-k hits for each query (embedded in one batch)."""
        if self.index.n_chunks == 0 or not queries:
            return [[] for _ in queries]
        depth = max(k, self.cfg.cross_encoder_top) if self.cfg.cross_encoder else k
        ranked = self.searcher.search_many(queries, depth)
        docs = self.index.docs()
        out: list[list[Hit]] = []
        for q, r in zip(queries, ranked, strict=True):
            rows, scores = r.positions, r.scores
            cos = dict(zip(rows, r.dense, strict=True)) if r.dense is not None else {}
            if self.cfg.cross_encoder and rows:
                rows, scores = self._cross_rerank(q, rows)
            rows, scores = rows[:k], scores[:k]
            chunks = self.index.chunks_at(rows)
            sents = self.index.sentence_vectors_at(rows)
            cosine = [cos.get(row) for row in rows]
            out.append(
                [
                    Hit(
                        chunk=c,
                        doc=docs[c.doc_id],
                        score=s,
                        rank=i,
                        dense=d,
                        sentence_vectors=sv,
                    )
                    for i, (c, s, d, sv) in enumerate(
                        zip(chunks, scores, cosine, sents, strict=True), 1
                    )
                ]
            )
        return out

    def _cross_rerank(self, query: str, rows: list[int]) -> tuple[list[int], list[float]]:
        """Reorder by a cross-encoder's score of (question, header + passage)."""
        from rag.chunking import embed_text, header_text

        if self._cross is None:
            from sentence_transformers import CrossEncoder

            self._cross = CrossEncoder(self.cfg.cross_encoder, device="cpu")
        docs = self.index.docs()
        chunks = self.index.chunks_at(rows)
        pairs = [(query, embed_text(c.text, header_text(docs[c.doc_id]))) for c in chunks]
        scores = self._cross.predict(pairs, show_progress_bar=False)  # type: ignore[attr-defined]
        order = sorted(range(len(rows)), key=lambda i: -float(scores[i]))
        return [rows[i] for i in order], [float(scores[i]) for i in order]
