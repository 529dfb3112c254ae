"""Several segments seen as one: stacked arrays, FAISS searched per segment, BM25 with
the whole index's statistics. Global rows are the live rows of the segments in order.

What it does not do: open segments (rag.store.seg_reader) or decide what is live.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from rag.store.seg_reader import Segment


class Stacked:
    """Arrays with the same columns, read as one (rows of part i after those of i − 1)
    without copying them: slices and integer-array indexing go to the parts."""

    def __init__(self, parts: Sequence[np.ndarray], dim: int, dtype: Any) -> None:
        import numpy as np

        self.parts = list(parts)
        self.starts = np.cumsum([0] + [len(p) for p in self.parts]).astype(np.int64)
        self.dtype = np.dtype(dtype)
        self.shape = (int(self.starts[-1]), dim)
        self.size = self.shape[0] * dim
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        import numpy as np

        out = np.empty(self.shape, dtype=dtype or self.dtype)
        for p, a in zip(self.parts, self.starts, strict=False):
            out[a : a + len(p)] = p
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        import numpy as np

        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1:
                i = int(np.searchsorted(self.starts, start, side="right")) - 1
                if i < len(self.parts) and stop <= self.starts[i + 1]:
                    a = int(self.starts[i])
                    return self.parts[i][start - a : stop - a]
            key = np.arange(start, stop, step)
        idx = np.asarray(key, dtype=np.int64)
        part = np.searchsorted(self.starts, idx, side="right") - 1
        out = np.empty((len(idx), self.shape[1]), dtype=self.dtype)
        for i in np.unique(part):
            sel = part == i
            out[sel] = self.parts[i][idx[sel] - self.starts[i]]
        return out


class SegmentedFaiss:
    """FAISS search over every segment (its inverted-file index or an exact one), dead
    rows dropped, results merged: the same `search(queries, k)` as a FAISS index."""

    def __init__(self, segments: Sequence[Segment], global_of: Sequence[np.ndarray]) -> None:
        self.segments, self.global_of = list(segments), list(global_of)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        q = np.ascontiguousarray(queries, dtype=np.float32)
        all_s, all_r = [], []
        for seg, g in zip(self.segments, self.global_of, strict=True):
            if seg.n == 0:
                continue
            dead = seg.n - int(seg.live.sum()) if seg.deleted else 0
            s, r = seg.faiss_index().search(q, min(seg.n, k + dead))
            rows = np.where(r >= 0, g[np.maximum(r, 0)], -1)
            all_s.append(np.where(rows >= 0, s, -np.inf))
            all_r.append(rows)
        if not all_s:
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        s, r = np.hstack(all_s), np.hstack(all_r)
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        s, r = np.take_along_axis(s, order, 1), np.take_along_axis(r, order, 1)
        if s.shape[1] < k:
            pad = k - s.shape[1]
            s = np.hstack([s, np.full((len(q), pad), -np.inf)])
            r = np.hstack([r, np.full((len(q), pad), -1)])
        return s.astype(np.float32), np.where(np.isfinite(s), r, -1).astype(np.int64)


class GlobalLexical:
    """BM25 over the live passages of every segment (chunks or sentences), scored with
    the statistics of them all (rag.store.postings)."""

    def __init__(self, segments: Sequence[Segment], kind: str, keep: Sequence[np.ndarray | None]):
        from rag.store.postings import Stats

        self.parts = [s.postings(kind) for s in segments]
        self.keep = list(keep)  # per segment: rows to keep (None: all)
        minus = [t[kind] for s in segments if (t := s.tombstones()) is not None]
        self.stats = Stats(self.parts, minus)
        self.n = sum(
            p.n if k is None else int(k.sum()) for p, k in zip(self.parts, self.keep, strict=True)
        )
        self.vocab = _Vocab(self.parts)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every live passage (0 where no term occurs)."""
        import numpy as np

        from rag.store.postings import scores

        out = [scores(p, self.stats, query_terms) for p in self.parts]
        out = [o if k is None else o[k] for o, k in zip(out, self.keep, strict=True)]
        return out[0] if len(out) == 1 else np.concatenate(out) if out else np.zeros(0, np.float32)


class _Vocab:
    """`term in vocab` over every segment's terms."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = parts

    def __contains__(self, term: object) -> bool:
        return any(term in p.vocab for p in self.parts)

    def get(self, term: str, default: Any = None) -> Any:
        return 1 if term in self else default
