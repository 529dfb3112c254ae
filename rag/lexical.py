"""Lexical search: BM25 over the index terms of chunks (and of their sentences).

Built with bm25s (Lucene's BM25 variant) at each commit of an index generation and saved
in its folder (`lexical/chunks`, `lexical/sentences`): a sparse term × passage matrix
whose entries are already BM25 scores. A query reads it back with numpy only: the score
of a passage is the sum of its entries in the rows of the query's terms. That keeps
scipy (and bm25s's 0.5 s import) off the path of `rag ask`.

Terms are those of `rag.text.terms` (stop words out, Snowball stems), the same for
passages and questions. Why bm25s and not SQLite FTS5: measured on MultiHop-RAG, its
BM25 with our stemmed terms ranks as well as any variant we tried, builds 5,000 passages
in well under a second, and gives dense score vectors over every passage, which fusion
and the learned reranker need; FTS5 returns only the matching rows of one query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

K1 = 1.2
B = 0.75
_FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy")


def build(passages: Sequence[list[str]], folder: Path) -> None:
    """Index passages given as term lists and save the index to `folder`."""
    import logging

    import bm25s

    # bm25s sets its own logger to DEBUG; once anything (torch's ONNX export does) has
    # configured the root logger, every build would print "Building index from tokens"
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    model = bm25s.BM25(k1=K1, b=B)
    model.index([list(p) for p in passages], show_progress=False)
    model.save(str(folder), show_progress=False)


class LexicalIndex:
    """A saved bm25s index, read with numpy (memory-mapped)."""

    def __init__(self, folder: Path) -> None:
        import numpy as np

        # memory-mapped, viewed as plain arrays (slicing a np.memmap costs more than the sum)
        self.data, self.indices, self.indptr = (
            np.load(folder / name, mmap_mode="r").view(np.ndarray) for name in _FILES
        )
        self.vocab: dict[str, int] = json.loads((folder / "vocab.index.json").read_text())
        params = json.loads((folder / "params.index.json").read_text())
        self.n = int(params["num_docs"])

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for these terms (0 where none occurs)."""
        import numpy as np

        out = np.zeros(self.n, dtype=np.float32)
        for t in dict.fromkeys(query_terms):
            i = self.vocab.get(t)
            if i is None:
                continue
            a, b = int(self.indptr[i]), int(self.indptr[i + 1])
            out[self.indices[a:b]] += self.data[a:b]  # a term's passages are distinct
        return out
