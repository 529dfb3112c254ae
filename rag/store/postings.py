"""BM25 postings of one segment, scored with statistics of the whole index.

A segment's lexical index (`lexical/chunks`, `lexical/sentences` in its folder) is an
inverted index of raw counts, not of finished scores:

    terms.json    the segment's terms, sorted; a term's number is its place in the list
    indptr.npy    int64 (terms + 1): term i's postings are [indptr[i], indptr[i+1])
    rows.npy      int32: the passage rows holding the term, ascending within a term
    tf.npy        uint16: how often the term occurs in that passage
    lengths.npy   int32 (passages): terms per passage, repeats included

BM25 needs the number of passages, their mean length and each term's document frequency
over the whole index; a segment made by one commit cannot know those for the index it
will join. So the scores are computed at query time from counts (`Scorer`), with
statistics summed over the live segments (`Stats`), as Lucene does. Like Lucene, the
statistics count a deleted passage until a compaction rewrites its segment.

The formula is bm25s's "lucene" variant, which the index used before segments (k1 1.2,
b 0.75): idf = ln(1 + (N − df + 0.5)/(df + 0.5)), tf part = tf / (tf + k1·(1 − b +
b·len/avglen)); one segment therefore scores exactly as the former bm25s index did.

Terms are those of `rag.text.terms` (stop words out, Snowball stems), the same for
passages and questions. What it does not do: tokenise (the caller passes term lists),
decide which passages are live (rag.store.reader).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.store.layout import save_npy

if TYPE_CHECKING:
    import numpy as np

K1 = 1.2
B = 0.75
FILES = ("terms.json", "indptr.npy", "rows.npy", "tf.npy", "lengths.npy")


def build(passages: Iterable[Sequence[str]], folder: Path) -> dict[str, int]:
    """Write the postings of passages given as term lists; returns {"rows", "length"}."""
    import numpy as np

    vocab: dict[str, int] = {}
    term_ids: list[int] = []
    counts: list[int] = []
    owners: list[int] = []
    lengths: list[int] = []
    for row, p in enumerate(passages):
        lengths.append(len(p))
        for t, c in Counter(p).items():
            term_ids.append(vocab.setdefault(t, len(vocab)))
            counts.append(c)
            owners.append(row)
    names = sorted(vocab)
    renumber = np.empty(len(vocab), dtype=np.int64)
    renumber[[vocab[t] for t in names]] = np.arange(len(names))
    tid = renumber[np.asarray(term_ids, dtype=np.int64)] if term_ids else np.zeros(0, np.int64)
    order = np.argsort(tid, kind="stable")  # rows stay ascending within a term
    write(
        folder,
        names,
        np.r_[0, np.cumsum(np.bincount(tid, minlength=len(names)))].astype(np.int64),
        np.asarray(owners, dtype=np.int32)[order],
        np.minimum(np.asarray(counts, dtype=np.int64), 65535).astype(np.uint16)[order],
        np.asarray(lengths, dtype=np.int32),
    )
    return {"rows": len(lengths), "length": int(sum(lengths))}


def write(
    folder: Path,
    names: Sequence[str],
    indptr: np.ndarray,
    rows: np.ndarray,
    tf: np.ndarray,
    lengths: np.ndarray,
) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "terms.json").write_text(json.dumps(list(names), ensure_ascii=False), "utf-8")
    save_npy(folder / "indptr.npy", indptr.astype(np.int64, copy=False))
    save_npy(folder / "rows.npy", rows.astype(np.int32, copy=False))
    save_npy(folder / "tf.npy", tf.astype(np.uint16, copy=False))
    save_npy(folder / "lengths.npy", lengths.astype(np.int32, copy=False))


class Postings:
    """One segment's postings, memory-mapped (read with numpy only: no scipy, no bm25s).

    Every file is opened here (arrays mapped, the term list read), so a reader keeps
    working after a writer removed the generation's folder; the term list is parsed on
    first use."""

    def __init__(self, folder: Path) -> None:
        import numpy as np

        self.folder = folder
        # memory-mapped, viewed as plain arrays (slicing a np.memmap costs more than the sum)
        self.indptr, self.rows, self.tf, self.lengths = (
            np.load(folder / f, mmap_mode="r").view(np.ndarray)
            for f in ("indptr.npy", "rows.npy", "tf.npy", "lengths.npy")
        )
        self._terms: bytes | None = (folder / "terms.json").read_bytes()
        self._vocab: dict[str, int] | None = None
        self.n = len(self.lengths)
        if int(self.indptr[-1]) != len(self.rows):
            raise ValueError(f"postings in {folder} do not match their term list")

    @property
    def vocab(self) -> dict[str, int]:
        if self._vocab is None:
            assert self._terms is not None
            names = json.loads(self._terms.decode("utf-8"))
            if len(self.indptr) != len(names) + 1:
                raise ValueError(f"postings in {self.folder} do not match their term list")
            self._vocab, self._terms = {t: i for i, t in enumerate(names)}, None
        return self._vocab

    def df(self, term: str) -> int:
        i = self.vocab.get(term)
        return 0 if i is None else int(self.indptr[i + 1] - self.indptr[i])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows holding the term (ascending) and its counts there; None if absent."""
        i = self.vocab.get(term)
        if i is None:
            return None
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.rows[a:b], self.tf[a:b]


@dataclass
class Stats:
    """BM25 statistics of the whole index: passages, their total length, and (lazily,
    per term asked) document frequencies summed over segments, less what the deleted
    passages had added (`minus`: rag.store.tombstones' per-segment records)."""

    parts: list[Postings]
    minus: list[dict[str, Any]] = field(default_factory=list)
    n: int = 0
    length: int = 0
    _df: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.n = sum(p.n for p in self.parts) - sum(int(m["rows"]) for m in self.minus)
        self.length = sum(int(p.lengths.sum()) for p in self.parts) if self.parts else 0
        self.length -= sum(int(m["length"]) for m in self.minus)

    @property
    def avglen(self) -> float:
        return self.length / self.n if self.n else 1.0

    def df(self, term: str) -> int:
        if term not in self._df:
            gone = sum(int(m["df"].get(term, 0)) for m in self.minus)
            self._df[term] = sum(p.df(term) for p in self.parts) - gone
        return self._df[term]

    def idf(self, term: str) -> float:
        df = self.df(term)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5)) if df else 0.0


def scores(part: Postings, stats: Stats, query_terms: Sequence[str]) -> np.ndarray:
    """BM25 score of every passage of one segment (0 where no term occurs), float32."""
    import numpy as np

    out = np.zeros(part.n, dtype=np.float32)
    avg = np.float32(stats.avglen)
    for t in dict.fromkeys(query_terms):
        hit = part.postings(t)
        if hit is None:
            continue
        rows, tf = hit
        idf = np.float32(stats.idf(t))
        tf32 = tf.astype(np.float32)
        norm = np.float32(K1) * (
            np.float32(1 - B) + np.float32(B) * part.lengths[rows].astype(np.float32) / avg
        )
        out[rows] += idf * (tf32 / (norm + tf32))  # a term's rows are distinct
    return out


def merge(parts: Sequence[Postings], keep: Sequence[np.ndarray], folder: Path) -> dict[str, int]:
    """Write the postings of several segments' passages as one, in order, keeping the
    rows where `keep[i]` (a bool mask per part) is true and renumbering them."""
    import numpy as np

    names = sorted(set().union(*(p.vocab for p in parts))) if parts else []
    number = {t: i for i, t in enumerate(names)}
    all_tid, all_rows, all_tf, lengths = [], [], [], []
    offset = 0
    for p, k in zip(parts, keep, strict=True):
        new_row = np.cumsum(k) - 1 + offset  # old row → new row (where kept)
        local_names = sorted(p.vocab, key=p.vocab.__getitem__)
        map_t = np.asarray([number[t] for t in local_names], dtype=np.int64)
        sizes = np.diff(np.asarray(p.indptr))
        tid = np.repeat(map_t, sizes)
        rows = np.asarray(p.rows)
        live = k[rows]
        all_tid.append(tid[live])
        all_rows.append(new_row[rows[live]].astype(np.int32))
        all_tf.append(np.asarray(p.tf)[live])
        lengths.append(np.asarray(p.lengths)[k])
        offset += int(k.sum())
    tid = np.concatenate(all_tid) if all_tid else np.zeros(0, np.int64)
    rows = np.concatenate(all_rows) if all_rows else np.zeros(0, np.int32)
    tf = np.concatenate(all_tf) if all_tf else np.zeros(0, np.uint16)
    order = np.argsort(tid, kind="stable")  # parts in order: rows stay ascending per term
    counts = np.bincount(tid, minlength=len(names))
    used = counts > 0  # terms only deleted passages held are dropped
    indptr = np.r_[0, np.cumsum(counts[used])].astype(np.int64)
    length = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
    write(folder, [t for t, u in zip(names, used, strict=True) if u], indptr,
          rows[order], tf[order], length)  # fmt: skip
    return {"rows": len(length), "length": int(length.sum())}
