"""Hybrid search for news questions: BM25 + dense, metadata, sub-queries, a learned reranker.

For one question:

1. **Parse** it (`rag.query`): the sources it names, dates with their relation, the
   clause about each named article; the text loses names, dates and boiler-plate.
2. **Score** every chunk with BM25 (`rag.lexical`) and cosine (the FAISS vectors), each
   z-normalised over the index, fused `a·bm25 + (1−a)·dense`, plus metadata boosts: the
   source is one the question names (or the title one it quotes), the date is the one
   it gives ("on") or in the range it gives ("before" / "after"), the time matches.
3. **Decompose**: one sub-query per named article (its clause, filtered to its sources
   and date) and one per part of a compound question, so that every article a comparison
   or temporal question needs has candidates of its own.
4. **Rerank** (`reranker = "learned"`; the default `auto` uses it from 1,000 chunks up):
   each candidate gets 34 features (its scores for the question, for its article's
   sub-query and for the question's parts, its best sentence's BM25 and cosine, its
   article's best scores, its place in the article and the article's rank...) and a
   gradient-boosted model trained on MultiHop-RAG's dev
   queries (bench/train_reranker.py, stored as JSON in rag/models/) gives the chance that
   it holds a needed fact. The top k is picked greedily, a second and third chunk of the
   same article discounted, so the list covers every article the question needs. By
   default (`learned_scope = "named"`) the model ranks only questions that name a source,
   as all its training questions do; a plain question is ranked by fusion, which the
   model trails on such questions (issue #17: bundled questions inside the MultiHop index).
   `reranker = "fusion"` ranks by the fused score instead and interleaves the sub-query
   rankings with per-article caps (the ablation baseline, and what runs with no model).

Every step can be switched off in the retrieval settings, which is how the ablation in
README was measured. `mode = "dense"` is plain FAISS top-k (the first version).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError, IndexMismatchError
from rag.query import ParsedQuery, QueryParser, segments, strip_question_words
from rag.text import terms

if TYPE_CHECKING:
    import numpy as np

    from rag.config import RetrievalSettings
    from rag.store import StoredIndex

EmbedFn = Callable[[Sequence[str]], "np.ndarray"]
MODEL_PATH = Path(__file__).parent / "models" / "reranker.json"

FEATURES = (
    "bm25", "dense", "fused", "log_rank", "src", "date_on", "date_near", "date_range",
    "time", "m_bm25", "m_dense", "m_fused", "m_log_rank", "m_date", "m_time", "doc_bm25",
    "doc_dense", "doc_fused", "doc_log_rank", "in_doc_rank", "in_doc_gap", "place",
    "n_mentions", "has_mentions", "sent_bm25", "m_sent_bm25", "seg_bm25", "seg_log_rank",
    "seg_sent_bm25", "n_segments", "sent_dense", "m_sent_dense", "sent_dense_gap",
    "sent_dense_z",
)  # fmt: skip
_LOW = -3.0  # a z-score for "not scored by this sub-query"
_DENSE_CANDIDATES = 1000  # an approximate index scores this many chunks per query
_BLOCK = 64  # queries searched together
_SENTENCE_COPY_BYTES = 256 << 20  # float32 copy of the sentence vectors up to this size


class DenseScores(dict):  # type: ignore[type-arg]
    """text → cosine of every chunk to it; `vectors`: text → its query vector."""

    vectors: dict[str, np.ndarray]


@dataclass
class Ranked:
    positions: list[int]  # chunk rows, best first
    scores: list[float]
    parsed: ParsedQuery | None = None
    dense: list[float] | None = None  # cosine of each to the searched text (no dense: None)


class Searcher:
    """Searches one index generation; built once per generation and shared."""

    def __init__(self, index: StoredIndex, embed: EmbedFn, cfg: RetrievalSettings) -> None:
        import numpy as np

        self.index, self.embed, self.cfg = index, embed, cfg
        self.table = index.table()
        lex = index.lexical() if cfg.mode != "dense" else None
        if cfg.mode != "dense" and lex is None and index.n_chunks:
            raise IndexMismatchError(
                f"index {index.dir} has no lexical index; run `rag ingest --rebuild`"
            )
        self.lex, self.sent_lex, self.sent_owner = lex or (None, None, None)
        self.n = index.n_chunks
        self.n_docs = len(self.table.doc_ids)
        years = self.table.day[self.table.day > 0]
        latest = int(years.max()) if len(years) else None
        from datetime import date

        year = date.fromordinal(latest).year if latest else date.today().year
        self.parser = QueryParser(self.table.sources, year)
        self._src_no = {s: i for i, s in enumerate(self.table.sources)}
        self._exact = index.manifest.get("faiss", {}).get("type", "flat") == "flat"
        learned = cfg.mode != "dense" and (
            cfg.reranker == "learned"
            or (cfg.reranker == "auto" and self.n >= cfg.learned_min_chunks)
        )
        self.model = load_model(cfg.reranker_model) if learned else None
        self._zeros = np.zeros(self.n, dtype=np.float32)
        self._titles: list[set[str]] | None = None
        self._vectors = np.asarray(index.vectors, dtype=np.float32) if self._exact else None
        # sentence vectors are stored as float16; numpy converts those slowly (0.6 ms for a
        # question's ~900 candidate sentences), so a small index keeps a float32 copy
        sv = index.sent_vectors
        small = sv is not None and sv.size * 4 <= _SENTENCE_COPY_BYTES
        self._sent_f32 = np.asarray(sv, dtype=np.float32) if small else None
        if self.sent_owner is not None:  # sentence rows are grouped by chunk, in order
            owner = np.asarray(self.sent_owner)
            self._sent_starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            self._sent_chunks = owner[self._sent_starts]
        # chunk rows grouped by document, for per-article maxima
        self._by_doc = np.argsort(self.table.doc, kind="stable")
        sorted_doc = self.table.doc[self._by_doc]
        self._doc_starts = np.flatnonzero(np.r_[True, sorted_doc[1:] != sorted_doc[:-1]])
        self._doc_of_start = sorted_doc[self._doc_starts]
        # per document number: its rows' range [lo, hi) in _by_doc
        self._doc_bounds = np.zeros((2, self.n_docs), dtype=np.int64)
        self._doc_bounds[0, self._doc_of_start] = self._doc_starts
        self._doc_bounds[1, self._doc_of_start] = np.r_[self._doc_starts[1:], self.n]

    # ------------------------------------------------------------------ public
    def search_many(self, queries: Sequence[str], k: int) -> list[Ranked]:
        if self.n == 0:
            return [Ranked([], []) for _ in queries]
        if self.cfg.mode == "dense":
            return self._dense_only(queries, k)
        blocks = [queries[i : i + _BLOCK] for i in range(0, len(queries), _BLOCK)]
        if len(blocks) == 1:
            return self._search_block(blocks[0], k)
        # many questions (an eval): blocks on every core; the encoder and numpy release the
        # GIL. BLAS and OpenMP are held to one thread meanwhile: each block's matrix
        # product would otherwise start a thread per core too (on 2 cores, 37 s instead of
        # 28 s of wall time and 1.5x the CPU for the MultiHop dev eval)
        from concurrent.futures import ThreadPoolExecutor

        with _one_library_thread(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            done = pool.map(lambda b: self._search_block(b, k), blocks)
            return [r for block in done for r in block]

    def _search_block(self, queries: Sequence[str], k: int) -> list[Ranked]:
        plans = [self._plan(q) for q in queries]
        dense = self._dense_scores([t for p in plans for t in p.embed_texts])
        return [self._search(p, dense, k) for p in plans]

    def features(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Candidate chunk rows and their feature matrix (for training the reranker)."""
        plan = self._plan(query)
        ids, X, _, _ = self._candidates(plan, self._dense_scores(plan.embed_texts))
        return ids, X

    # ------------------------------------------------------------------ steps
    def _plan(self, query: str) -> _Plan:
        cfg = self.cfg
        pq = self.parser.parse(query) if cfg.query_parsing else None
        text = strip_question_words(pq.text if pq else query)
        hops = pq.hops if (pq and cfg.decompose) else []
        clauses = [strip_question_words(m.clause) for m in hops]
        clauses = [c if len(re.findall(r"\w+", c)) >= 3 else "" for c in clauses]
        segs = [strip_question_words(s) for s in segments(pq.text if pq else query)]
        segs = segs if cfg.decompose else []
        dense = cfg.mode == "hybrid"
        embed_texts = [t for t in [text, *clauses] if t] if dense else []
        return _Plan(query, pq, text, hops, clauses, segs, embed_texts)

    def _dense_scores(self, texts: Sequence[str]) -> DenseScores:
        """Cosine of every chunk to each text, one matrix product for all of them."""
        import numpy as np

        texts = list(dict.fromkeys(texts))
        out = DenseScores()
        out.vectors = {}
        if not texts:
            return out
        qv = np.asarray(self.embed(texts), dtype=np.float32)
        out.vectors = dict(zip(texts, qv, strict=True))
        if self._vectors is not None:
            m = np.asarray(self._vectors @ qv.T, dtype=np.float32)
            out.update({t: m[:, j] for j, t in enumerate(texts)})
            return out
        scores, rows = self.index.faiss_index().search(qv, min(_DENSE_CANDIDATES, self.n))
        for t, sc, rw in zip(texts, scores, rows, strict=True):
            keep = rw >= 0
            d = np.full(self.n, float(sc[keep].min()), dtype=np.float32)
            d[rw[keep]] = sc[keep]  # beyond the candidates: the lowest score seen
            out[t] = d
        return out

    def _sentence_dense(self, ids: np.ndarray, qv: list[np.ndarray]) -> np.ndarray:
        """(len(ids), len(qv)): per candidate, the best cosine of one of its sentences
        (late-chunked vectors stored at ingest) to each query vector; -1 without them."""
        import numpy as np

        sv = self._sent_f32 if self._sent_f32 is not None else self.index.sent_vectors
        best = np.full((len(ids), max(len(qv), 1)), -1.0, dtype=np.float32)
        if sv is None or not qv or not len(ids):
            return best
        starts, ns = self.table.sent_row[ids], self.table.n_sent[ids]
        has = ns > 0
        if not has.any():
            return best
        starts, ns, owner_of = starts[has], ns[has], np.flatnonzero(has)
        offsets = np.repeat(starts - np.cumsum(np.r_[0, ns[:-1]]), ns)
        sel = np.arange(int(ns.sum())) + offsets
        cos = np.asarray(sv[sel], dtype=np.float32) @ np.stack(qv).T
        first = np.r_[0, np.cumsum(ns)[:-1]]
        best[owner_of] = np.maximum.reduceat(cos, first, axis=0)
        return best

    def _scores(self, text: str, dense: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        assert self.lex is not None
        bm = _z(self.lex.scores(terms(text)))
        if self.cfg.mode != "hybrid" or text not in dense:
            return bm, self._zeros
        return bm, _z(dense[text])

    def _sentences(self, text: str) -> np.ndarray:
        """Per chunk, the best BM25 z-score of one of its sentences."""
        import numpy as np

        assert self.sent_lex is not None and self.sent_owner is not None
        s = _z(self.sent_lex.scores(terms(text)))
        out = np.full(self.n, _LOW, dtype=np.float32)
        out[self._sent_chunks] = np.maximum.reduceat(s, self._sent_starts)
        return out

    def _doc_max(self, v: np.ndarray) -> np.ndarray:
        import numpy as np

        out = np.full(self.n_docs, -1e9, np.float32)
        out[self._doc_of_start] = np.maximum.reduceat(v[self._by_doc], self._doc_starts)
        return out

    def _title_mask(self, phrases: Sequence[str]) -> np.ndarray:
        """Chunks of the articles whose title holds (nearly) all words of a phrase."""
        import numpy as np

        if self._titles is None:
            docs = self.index.docs()
            self._titles = [set(terms(docs[d].title)) for d in self.table.doc_ids]
        hit = set()
        for phrase in phrases:
            want = set(terms(phrase))
            if want:
                hit |= {i for i, t in enumerate(self._titles) if len(want & t) >= 0.8 * len(want)}
        return np.isin(self.table.doc, list(hit))

    def _source_mask(self, sources: set[str] | frozenset[str]) -> np.ndarray:
        import numpy as np

        wanted = [self._src_no[s] for s in sources if s in self._src_no]
        return np.isin(self.table.source, wanted)

    def _time_mask(self, hhmm: str) -> np.ndarray:
        import numpy as np

        return np.fromiter((t.startswith(hhmm) for t in self.table.time), bool, self.n)

    def _candidates(
        self, plan: _Plan, vecs: DenseScores
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """Candidate rows, their features, the global score of every chunk and the
        rankings of the sub-queries (the global one last)."""
        import numpy as np

        cfg, t, n = self.cfg, self.table, self.n
        a = cfg.lexical_weight if cfg.mode == "hybrid" else 1.0
        bm, de = self._scores(plan.text, vecs)
        fused = a * bm + (1 - a) * de
        pq = plan.parsed
        f32 = np.float32
        src = self._source_mask(pq.sources) if pq and pq.mentions else np.zeros(n, bool)
        if pq and pq.quoted:  # a quoted title names its article like a source names its own
            src = src | self._title_mask(pq.quoted)
        src = src.astype(f32)
        date_on, date_near, date_range = (np.zeros(n, f32) for _ in range(3))
        for d in pq.dates if pq else []:
            o = d.day.toordinal()
            if d.relation == "on":
                date_on = np.maximum(date_on, t.day == o)
                date_near = np.maximum(date_near, np.abs(t.day - o) <= 1)
            elif d.relation == "before":
                date_range = np.maximum(date_range, (t.day < o) & (t.day > 0))
            else:
                date_range = np.maximum(date_range, t.day > o)
        tm = np.zeros(n, f32)
        for hhmm in pq.times if pq else []:
            tm = np.maximum(tm, self._time_mask(hhmm))
        g = (
            fused
            + cfg.source_boost * src
            + cfg.date_boost * date_on
            + cfg.range_boost * date_range
            + cfg.time_boost * tm
        )
        cand: dict[int, None] = dict.fromkeys(_top(g, cfg.candidates).tolist())
        lists = [_top(g, 200)]

        m_bm, m_de, m_fu, m_sb = (np.full(n, _LOW, f32) for _ in range(4))
        m_rank = np.full(n, 1000.0, f32)
        m_date, m_time = np.zeros(n, f32), np.zeros(n, f32)
        for m, clause in zip(plan.hops, plan.clauses, strict=True):
            mask = self._source_mask(m.sources)
            if clause:
                cb, cd = self._scores(clause, vecs)
                csb = self._sentences(clause)
            else:
                cb, cd, csb = bm, de, None
            cf = (1 - cfg.clause_weight) * fused + cfg.clause_weight * (a * cb + (1 - a) * cd)
            md = (t.day == m.date.toordinal()).astype(f32) if m.date else np.zeros(n, f32)
            mt = self._time_mask(m.time).astype(f32) if m.time else np.zeros(n, f32)
            sm = np.where(mask, cf + cfg.date_boost * md + cfg.time_boost * mt, -1e9)
            m_bm = np.where(mask, np.maximum(m_bm, cb), m_bm)
            m_de = np.where(mask, np.maximum(m_de, cd), m_de)
            m_fu = np.where(mask, np.maximum(m_fu, cf), m_fu)
            m_rank = np.where(mask, np.minimum(m_rank, _ranks(sm)), m_rank)
            m_date = np.where(mask, np.maximum(m_date, md), m_date)
            m_time = np.where(mask, np.maximum(m_time, mt), m_time)
            if csb is not None:
                m_sb = np.where(mask, np.maximum(m_sb, csb), m_sb)
            top = _top(sm, cfg.candidates_per_hop)
            top = top[sm[top] > -1e8]
            cand.update(dict.fromkeys(top.tolist()))
            lists.insert(len(lists) - 1, top)

        s_bm, s_sb = np.full(n, _LOW, f32), np.full(n, _LOW, f32)
        s_rank = np.full(n, 1000.0, f32)
        prior = cfg.source_boost * src + cfg.date_boost * date_on + cfg.time_boost * tm
        for seg in plan.segments:
            sb = _z(self.lex.scores(terms(seg))) if self.lex else self._zeros
            s_bm = np.maximum(s_bm, sb)
            s_rank = np.minimum(s_rank, _ranks(sb + prior))
            s_sb = np.maximum(s_sb, self._sentences(seg))
            cand.update(dict.fromkeys(_top(sb + prior, cfg.candidates_per_part).tolist()))
        ids = np.fromiter(cand, dtype=np.int64)

        doc = t.doc
        dbm, dde, dfu = self._doc_max(bm), self._doc_max(de), self._doc_max(g)
        doc_rank = _ranks(dfu)
        # each candidate's rank within its article (by g): only the candidates' articles
        lo, hi = self._doc_bounds[:, doc[ids]]
        lo, hi = np.unique(np.stack([lo, hi]), axis=1)
        sizes = hi - lo
        rows = self._by_doc[np.repeat(lo - np.cumsum(np.r_[0, sizes[:-1]]), sizes)
                            + np.arange(int(sizes.sum()))]  # fmt: skip
        order = rows[np.lexsort((-g[rows], doc[rows]))]  # by article, best chunk first
        first = np.r_[0, np.flatnonzero(doc[order][1:] != doc[order][:-1]) + 1]
        starts = np.zeros(len(order), np.int64)
        starts[first] = first
        in_doc = np.empty(n, f32)
        in_doc[order] = np.arange(len(order)) - np.maximum.accumulate(starts)
        sent = self._sentences(plan.text)
        nm = float(len(plan.hops))
        main = [vecs.vectors[plan.text]] if plan.text in vecs.vectors else []
        hop_vecs = [vecs.vectors[c] for c in plan.clauses if c in vecs.vectors]
        sd_all = self._sentence_dense(ids, main + hop_vecs)
        sd = sd_all[:, 0] if main else np.full(len(ids), -1.0, f32)
        msd = sd_all[:, len(main) :].max(axis=1) if hop_vecs else np.full(len(ids), -1.0, f32)
        best_in_doc = np.full(self.n_docs, -9.0, f32)
        np.maximum.at(best_in_doc, doc[ids], sd)
        X = np.stack(
            [
                bm[ids],
                de[ids],
                fused[ids],
                np.log1p(_ranks(g)[ids]),
                src[ids],
                date_on[ids],
                date_near[ids],
                date_range[ids],
                tm[ids],
                m_bm[ids],
                m_de[ids],
                m_fu[ids],
                np.log1p(m_rank[ids]),
                m_date[ids],
                m_time[ids],
                dbm[doc[ids]],
                dde[doc[ids]],
                dfu[doc[ids]],
                np.log1p(doc_rank[doc[ids]]),
                np.log1p(in_doc[ids]),
                dfu[doc[ids]] - g[ids],
                np.log1p(t.place[ids]),
                np.full(len(ids), nm),
                np.full(len(ids), float(nm > 0)),
                sent[ids],
                m_sb[ids],
                s_bm[ids],
                np.log1p(s_rank[ids]),
                s_sb[ids],
                np.full(len(ids), float(len(plan.segments))),
                sd,
                msd,
                sd - best_in_doc[doc[ids]],
                _z(sd),
            ],
            axis=1,
        ).astype(f32)
        return ids, X, g, lists

    def _search(self, plan: _Plan, vecs: DenseScores, k: int) -> Ranked:
        ids, X, g, lists = self._candidates(plan, vecs)
        k = min(k, self.n)
        if self.model is not None and self._learned_ranks(plan):
            p = self.model.predict(X)
            rows, scores = _select(ids, p, self.table.doc, k, self.cfg.same_article_discount)
        else:
            rows = _interleave(lists, g, self.table.doc, k, self.cfg)
            scores = [float(g[r]) for r in rows]
        cos = vecs.get(plan.text)
        dense = [float(cos[r]) for r in rows] if cos is not None else None
        return Ranked(rows, scores, plan.parsed, dense)

    def _learned_ranks(self, plan: _Plan) -> bool:
        """Whether the learned model ranks this question (`learned_scope`): with `named`,
        only a question that names a source. Without query parsing nothing can be told
        apart, so every question is ranked by the model."""
        if self.cfg.learned_scope == "all" or not self.cfg.query_parsing:
            return True
        return bool(plan.parsed and plan.parsed.mentions)

    def _dense_only(self, queries: Sequence[str], k: int) -> list[Ranked]:
        qv = self.embed(list(queries))
        scores, rows = self.index.faiss_index().search(qv, min(k, self.n))
        out = []
        for ss, rr in zip(scores, rows, strict=True):
            keep = rr >= 0
            out.append(Ranked(rr[keep].tolist(), ss[keep].tolist(), dense=ss[keep].tolist()))
        return out


@dataclass
class _Plan:
    query: str
    parsed: ParsedQuery | None
    text: str
    hops: list[Any]
    clauses: list[str]
    segments: list[str]
    embed_texts: list[str]


# --------------------------------------------------------------------------- helpers

_LIMIT_LOCK = threading.Lock()
_LIMIT_STATE: dict[str, Any] = {"users": 0, "limiter": None}


@contextmanager
def _one_library_thread() -> Iterator[None]:
    """BLAS and OpenMP (FAISS) at one thread while our own threads search. The limit is
    process-wide, so overlapping searches share one: set by the first, restored by the
    last (threadpoolctl alone would restore in the wrong order)."""
    from threadpoolctl import threadpool_limits

    with _LIMIT_LOCK:
        if _LIMIT_STATE["users"] == 0:
            _LIMIT_STATE["limiter"] = threadpool_limits(limits=1)
        _LIMIT_STATE["users"] += 1
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT_STATE["users"] -= 1
            if _LIMIT_STATE["users"] == 0:
                _LIMIT_STATE["limiter"].restore_original_limits()
                _LIMIT_STATE["limiter"] = None


def _z(s: np.ndarray) -> np.ndarray:
    sd = float(s.std())
    return (s - float(s.mean())) / (sd if sd > 1e-9 else 1.0)


def _ranks(v: np.ndarray) -> np.ndarray:
    import numpy as np

    r = np.empty(len(v), np.float32)
    r[np.argsort(-v, kind="stable")] = np.arange(len(v))
    return r


def _top(v: np.ndarray, k: int) -> np.ndarray:
    import numpy as np

    k = min(k, len(v))
    part = np.argpartition(-v, k - 1)[:k]
    return part[np.argsort(-v[part], kind="stable")]


def _select(
    ids: np.ndarray, p: np.ndarray, doc: np.ndarray, k: int, discount: Sequence[float]
) -> tuple[list[int], list[float]]:
    """Greedy top-k: a candidate's value is its probability times a discount for the
    chunks of its article already taken (1, then discount[0], then discount[1])."""
    import numpy as np

    mult = np.array([1.0, *discount])
    d_of = doc[ids]
    taken_per_doc = np.zeros(int(d_of.max()) + 1 if len(ids) else 0, dtype=np.int64)
    value = p.astype(np.float64).copy()
    taken = np.zeros(len(ids), dtype=bool)
    rows: list[int] = []
    scores: list[float] = []
    for _ in range(min(k, len(ids))):
        j = int(np.argmax(value))
        if value[j] < 0:
            break
        rows.append(int(ids[j]))
        scores.append(float(p[j]))
        taken[j] = True
        d = d_of[j]
        taken_per_doc[d] += 1
        same = (d_of == d) & ~taken
        value[same] = p[same] * mult[min(int(taken_per_doc[d]), len(mult) - 1)]
        value[j] = -1.0
    return rows, scores


def _interleave(
    lists: list[np.ndarray], g: np.ndarray, doc: np.ndarray, k: int, cfg: RetrievalSettings
) -> list[int]:
    """Round-robin over the sub-query rankings (the global one last), at most
    `first_pass_cap` chunks per article; then back-fill by global score with at most
    `max_per_article`, then with no cap. Without caps (`diversify = false`), the global
    ranking."""
    import numpy as np

    if not cfg.diversify:
        return [int(r) for r in _top(g, k)]
    out: list[int] = []
    taken: set[int] = set()
    per_doc: dict[int, int] = {}

    def take(c: int, cap: int) -> bool:
        d = int(doc[c])
        if c in taken or per_doc.get(d, 0) >= cap:
            return False
        out.append(c)
        taken.add(c)
        per_doc[d] = per_doc.get(d, 0) + 1
        return True

    ptr = [0] * len(lists)
    moved = True
    while len(out) < k and moved:
        moved = False
        for i, lst in enumerate(lists):
            while ptr[i] < len(lst) and len(out) < k:
                ptr[i] += 1
                if take(int(lst[ptr[i] - 1]), cfg.first_pass_cap):
                    moved = True
                    break
    for cap in (cfg.max_per_article, k):  # the caps never leave the list short
        for c in np.argsort(-g):
            if len(out) >= k:
                break
            take(int(c), cap)
    return out


# --------------------------------------------------------------------------- the model


class TreeModel:
    """A gradient-boosted tree ensemble (trained with scikit-learn, stored as JSON),
    evaluated with numpy for all trees at once: p = sigmoid(baseline + Σ leaf values)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import numpy as np

        if list(spec["features"]) != list(FEATURES):
            raise ValueError("the reranker model was trained on other features; retrain it")
        self.baseline = float(spec["baseline"])
        self.meta = {k: v for k, v in spec.items() if k != "trees"}
        trees = spec["trees"]
        sizes = [len(t["leaf"]) for t in trees]
        self.roots = np.cumsum([0, *sizes[:-1]]).astype(np.int64)  # first node of each tree

        def cat(key: str, dtype: Any, shift: bool = False) -> np.ndarray:
            parts = [np.asarray(t[key], dtype=dtype) for t in trees]
            if shift:  # child numbers are per tree: make them global
                parts = [p + r for p, r in zip(parts, self.roots, strict=True)]
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        self.feature = cat("feature", np.int64)
        self.threshold = cat("threshold", np.float64)
        self.nan_left = cat("nan_left", bool)
        self.leaf = cat("leaf", bool)
        self.value = cat("value", np.float64)
        # children side by side (a leaf points at itself), so one step is one lookup
        nodes = np.arange(len(self.leaf))
        left = np.where(self.leaf, nodes, cat("left", np.int64, shift=True))
        right = np.where(self.leaf, nodes, cat("right", np.int64, shift=True))
        self.children = np.stack([left, right], axis=1)
        depths = np.array([int(t.get("depth", len(t["leaf"]))) for t in trees], dtype=np.int64)
        self.depth = int(depths.max()) if trees else 0
        # for `predict`: trees deepest first, so the trees still walking at step s are a
        # prefix; leaves compare against +inf and stay put (their "left child" is self)
        order = np.argsort(-depths, kind="stable")
        self._roots_by_depth = self.roots[order]
        self._active = [int((depths > s).sum()) for s in range(self.depth)]
        self._feat = np.where(self.leaf, 0, self.feature)
        self._thr = np.where(self.leaf, np.inf, self.threshold)
        self._child = self.children.ravel()

    def predict(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        if len(self.roots) == 0:
            return np.full(len(X), 1.0 / (1.0 + np.exp(-self.baseline)))
        if np.isnan(X).any():
            return self._predict_missing(X)
        n, f = X.shape
        flat = np.ascontiguousarray(X, dtype=np.float64).ravel()
        node = np.repeat(self._roots_by_depth[:, None], n, axis=1)  # (trees, rows)
        offset = np.arange(n) * f
        for k in self._active:  # one level of every tree that is this deep
            sub = node[:k]
            x = flat[offset + self._feat[sub]]
            node[:k] = self._child[2 * sub + (x > self._thr[sub])]
        raw = self.baseline + self.value[node].sum(axis=0)
        return 1.0 / (1.0 + np.exp(-raw))

    def _predict_missing(self, X: np.ndarray) -> np.ndarray:
        """The general walk, with scikit-learn's side for missing values."""
        import numpy as np

        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        rows = np.arange(len(X))[:, None]
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            right = np.where(np.isnan(x), ~self.nan_left[node], x > self.threshold[node])
            node = self.children[node, right.astype(np.int64)]
        raw = self.baseline + self.value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-raw))


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> TreeModel:
    p = Path(path) if path else MODEL_PATH
    try:
        return TreeModel(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(
            f"reranker model {p} cannot be read ({e}); retrain it with "
            'bench/train_reranker.py or set retrieval.reranker = "fusion"'
        ) from None
