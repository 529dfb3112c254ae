"""Hybrid search: BM25 stored with the index, query understanding, sub-queries, reranker."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import api
from rag.config import load_settings
from rag.query import QueryParser, segments
from rag.search import FEATURES, TreeModel
from rag.store import open_index, postings
from rag.text import terms

from .conftest import settings_for

SOURCES = ["TechCrunch", "The Verge", "Cnbc | World Business News Leader", "Fortune"]


def test_parser_reads_sources_dates_and_clauses() -> None:
    p = QueryParser(SOURCES, year=2023)
    q = (
        "Does the TechCrunch article on Epic published on October 7 agree with the Verge "
        "report published before November 2, 2023 about the trial?"
    )
    pq = p.parse(q)
    assert [sorted(m.sources) for m in pq.mentions] == [["TechCrunch"], ["The Verge"]]
    assert pq.mentions[0].date == date(2023, 10, 7)  # a year-less date takes the index's
    assert pq.mentions[1].date is None  # "before" is a range, not this article's date
    assert [(d.day, d.relation) for d in pq.dates] == [
        (date(2023, 10, 7), "on"),
        (date(2023, 11, 2), "before"),
    ]
    assert "Epic" in pq.mentions[0].clause and "trial" in pq.mentions[1].clause
    assert "TechCrunch" not in pq.text and "October" not in pq.text and "Epic" in pq.text


def test_parser_short_names_and_case() -> None:
    p = QueryParser(SOURCES, year=2023)
    assert p.parse("What did CNBC report at 14:05?").sources == {
        "Cnbc | World Business News Leader"
    }
    assert p.parse("What did CNBC report at 14:05?").times == ["14:05"]
    assert p.parse("According to Fortune, who won?").sources == {"Fortune"}
    assert p.parse("Did he make a fortune?").sources == set()  # a word, not the magazine
    assert p.parse("Is the sky blue?").mentions == []


def test_segments_split_compound_questions() -> None:
    parts = segments(
        "Which company was sued over its app store fees, and which one was fined for "
        "breaking privacy rules in Europe?"
    )
    assert len(parts) == 2 and "fees" in parts[0] and "privacy" in parts[1]
    assert segments("Why did Russia lift the ban?") == []


def test_lexical_index_scores_like_bm25s(tmp_path: Path) -> None:
    """Postings of counts scored at query time give bm25s's scores, and two segments
    scored with the statistics of both give what one segment of all passages gives."""
    import bm25s

    passages = [
        "Russia lifted its ban on the Taliban after two decades.",
        "The court ruled on the ban of the app in app stores.",
        "Oil prices rose in November.",
        "",
    ]
    toks = [terms(p) for p in passages]
    postings.build(toks, tmp_path / "lex")
    one = postings.Postings(tmp_path / "lex")
    postings.build(toks[:2], tmp_path / "a")
    postings.build(toks[2:], tmp_path / "b")
    parts = [postings.Postings(tmp_path / "a"), postings.Postings(tmp_path / "b")]
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index(toks, show_progress=False)
    for q in ["Taliban ban", "app store bans", "prices", "nothing matches"]:
        qt = [t for t in terms(q) if t in ref.vocab_dict]
        want = ref.get_scores(qt) if qt else np.zeros(len(passages))
        ours = postings.scores(one, postings.Stats([one]), terms(q))
        np.testing.assert_allclose(ours, want, rtol=1e-6)
        stats = postings.Stats(parts)
        split = np.concatenate([postings.scores(p, stats, terms(q)) for p in parts])
        np.testing.assert_allclose(split, want, rtol=1e-6)
    taliban = postings.scores(one, postings.Stats([one]), terms("Taliban"))
    assert taliban[0] > 0 and taliban[1] == 0


def _article(title: str, source: str, day: str, body: str) -> str:
    return f'---\ntitle: "{title}"\nsource: "{source}"\npublished_at: "{day}"\n---\n\n{body}\n'


@pytest.fixture(scope="module")
def news_index(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Path:
    """Four articles on the same story from different outlets and days. The three on the
    fees share their words but each adds its own closing line (identical bodies would be
    one wire copy, stored once: see tests/test_duplicates.py)."""
    root = tmp_path_factory.mktemp("news")
    text = (
        "The regulator fined the app maker over its store fees. The company said it would "
        "appeal the decision. Analysts expect the fees to fall next year."
    )
    own = {
        "tc": " Developers we spoke to hope the appeal fails quickly.",
        "verge": " Readers have long complained about the cut taken on every sale.",
        "fortune": " Shares of the company dipped slightly in early trading on the news.",
    }
    arts = {
        "tc-fees": (
            "App maker fined over store fees",
            "TechCrunch",
            "2023-10-05",
            text + own["tc"],
        ),
        "verge-fees": ("Regulator fines app maker", "The Verge", "2023-10-20", text + own["verge"]),
        "fortune-fees": ("Fees under fire", "Fortune", "2023-11-12", text + own["fortune"]),
        "verge-phone": (
            "A new phone",
            "The Verge",
            "2023-11-01",
            "The phone has a larger battery and a brighter screen than last year's model.",
        ),
    }
    for name, (title, source, day, body) in arts.items():
        (root / "docs").mkdir(exist_ok=True)
        (root / "docs" / f"{name}.md").write_text(_article(title, source, day, body))
    index = root / "index"
    api.ingest([root / "docs"], settings_for(index), encoder=encoder)
    return index


def _top_docs(index: Path, q: str, k: int = 3, **retrieval: Any) -> list[str]:
    p = api.Pipeline(settings_for(index, retrieval=retrieval))
    return [h.chunk.doc_id for h in p.retrieve(q, top_k=k)]


@pytest.mark.parametrize("reranker", ["learned", "fusion"])
def test_a_named_source_is_used_as_metadata(news_index: Path, reranker: str) -> None:
    # the three fee articles say nearly the same words; the source tells them apart
    q = "What did the regulator decide about the store fees, according to Fortune?"
    assert _top_docs(news_index, q, reranker=reranker)[0] == "fortune-fees"
    q = "What did the regulator decide about the store fees, according to TechCrunch?"
    assert _top_docs(news_index, q, reranker=reranker)[0] == "tc-fees"
    # switched off, the name is only a word (and not in the text)
    off = _top_docs(news_index, q, k=4, reranker=reranker, query_parsing=False)
    assert set(off) >= {"tc-fees", "verge-fees", "fortune-fees"}


@pytest.mark.parametrize("reranker", ["auto", "fusion"])
def test_a_named_date_is_used_as_metadata(news_index: Path, reranker: str) -> None:
    q = "What did the article published on November 12, 2023 say about the store fees?"
    assert _top_docs(news_index, q, reranker=reranker)[0] == "fortune-fees"
    q = "What was reported about the store fees before October 10, 2023?"
    assert _top_docs(news_index, q, reranker=reranker)[0] == "tc-fees"


def test_a_question_naming_two_sources_gets_both(news_index: Path) -> None:
    q = (
        "Did the TechCrunch article about the store fees and The Verge article about the "
        "battery of the new phone both come out in autumn?"
    )
    for reranker in ("learned", "fusion"):
        top = _top_docs(news_index, q, k=2, reranker=reranker)
        assert set(top) == {"tc-fees", "verge-phone"}, reranker


def test_auto_uses_the_learned_reranker_only_on_a_sizable_index(news_index: Path) -> None:
    def searcher(**retrieval: Any) -> Any:
        return api.Pipeline(settings_for(news_index, retrieval=retrieval)).retriever().searcher

    assert searcher().model is None  # 4 chunks: z-scored features mean little
    assert searcher(learned_min_chunks=2).model is not None
    assert searcher(reranker="learned").model is not None
    assert searcher(reranker="learned", mode="dense").model is None


def test_the_learned_reranker_ranks_only_questions_that_name_a_source(news_index: Path) -> None:
    """Its training questions all name their sources; a plain question is ranked by
    fusion (`learned_scope = named`, issue #17), unless `learned_scope = all`."""

    class Reversed:  # a model whose use shows: it ranks the candidates backwards
        def __init__(self) -> None:
            self.calls = 0

        def predict(self, X: np.ndarray) -> np.ndarray:
            self.calls += 1
            return -X[:, FEATURES.index("fused")]

    def top(q: str, **retrieval: Any) -> tuple[list[str], int]:
        p = api.Pipeline(settings_for(news_index, retrieval={"reranker": "learned", **retrieval}))
        p.retriever().searcher.model = model = Reversed()
        return [h.chunk.doc_id for h in p.retrieve(q, top_k=4)], model.calls

    plain = "What did the regulator decide about the store fees?"
    fusion = _top_docs(news_index, plain, k=4, reranker="fusion")
    assert top(plain) == (fusion, 0)
    ranked, calls = top(plain, learned_scope="all")
    assert calls == 1 and ranked[0] != fusion[0]
    assert top("What did Fortune say about the store fees?")[1] == 1
    assert top(plain, query_parsing=False)[1] == 1  # nothing to tell them apart by


def test_modes_and_the_lexical_index_on_disk(news_index: Path) -> None:
    idx = open_index(news_index)
    assert (idx.path / "seg-000001" / "lexical" / "chunks" / "terms.json").is_file()
    lex = idx.lexical()
    assert lex is not None and lex[0].n == idx.n_chunks
    assert len(lex[2]) == sum(len(c.sentences) for c in idx.all_chunks())
    q = "bigger battery and brighter screen"
    for mode in ("hybrid", "lexical", "dense"):
        assert _top_docs(news_index, q, k=1, mode=mode) == ["verge-phone"], mode


def test_the_tree_model_predicts_like_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    sys_path = Path(__file__).resolve().parents[1] / "bench"
    import sys

    sys.path.insert(0, str(sys_path))
    try:
        from train_reranker import _export
    finally:
        sys.path.remove(str(sys_path))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, len(FEATURES))).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the learned side
    y = ((np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 3]) ** 2) > 1).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    spec = json.loads(json.dumps(_export(clf)))
    model = TreeModel(spec)
    np.testing.assert_allclose(model.predict(X), clf.predict_proba(X)[:, 1], atol=1e-9)
    full = np.nan_to_num(X)  # no missing values: the fast walk, trees of unequal depth
    assert len(set(model._active)) > 1
    np.testing.assert_allclose(model.predict(full), clf.predict_proba(full)[:, 1], atol=1e-9)


def test_a_bad_reranker_model_is_a_clear_error(news_index: Path, tmp_path: Path) -> None:
    from rag.errors import ConfigError

    bad = tmp_path / "model.json"
    bad.write_text('{"features": ["x"], "baseline": 0, "trees": []}')
    retrieval = {"reranker_model": str(bad), "reranker": "learned"}
    with pytest.raises(ConfigError, match="other features"):
        api.Pipeline(settings_for(news_index, retrieval=retrieval)).retrieve("fees")


def test_a_cross_encoder_reorders_the_top(news_index: Path) -> None:
    """The optional cross-encoder seam, with a real CrossEncoder: a MiniLM with a fresh
    (seeded) scoring head, since no trained cross-encoder can be downloaded here."""
    import torch
    from sentence_transformers import CrossEncoder

    from rag.chunking import embed_text, header_text
    from rag.embed import resolve_model

    path = str(resolve_model("all-MiniLM-L6-v2"))
    torch.manual_seed(0)
    p = api.Pipeline(
        settings_for(news_index, retrieval={"cross_encoder": path, "cross_encoder_top": 4})
    )
    q = "store fees"
    hits = p.retrieve(q, top_k=2)
    torch.manual_seed(0)
    ce = CrossEncoder(path, num_labels=1, device="cpu")
    plain = api.Pipeline(settings_for(news_index)).retrieve(q, top_k=4)
    pairs = [(q, embed_text(h.chunk.text, header_text(h.doc))) for h in plain]
    want = [plain[i].chunk.id for i in np.argsort(-ce.predict(pairs), kind="stable")[:2]]
    assert [h.chunk.id for h in hits] == want


def test_a_large_index_gets_an_approximate_vector_index(
    news_index: Path, tmp_path: Path, encoder: Any
) -> None:
    """Above index.exact_up_to chunks the writer builds an IVF index (here: from 2 up)."""
    docs = Path(open_index(news_index).docs()["tc-fees"].origin or "").parent
    index = tmp_path / "ivf"
    settings = load_settings(index={"dir": index, "exact_up_to": 2})
    api.ingest([docs], settings, encoder=encoder)
    idx = open_index(index)
    assert idx.manifest["faiss"]["type"] == "segments"
    assert (idx.path / "seg-000001" / "index.faiss").is_file()
    faiss_index = idx.segments[0].faiss_index()
    assert faiss_index.ntotal == idx.n_chunks and faiss_index.nprobe == 16
    q = "bigger battery and brighter screen"
    for mode in ("hybrid", "dense"):
        assert _top_docs(index, q, k=1, mode=mode) == ["verge-phone"], mode
    exact = _top_docs(news_index, "store fees appeal", k=4, reranker="fusion")
    assert sorted(_top_docs(index, "store fees appeal", k=4, reranker="fusion")) == sorted(exact)


def test_a_question_ranks_the_same_alone_and_in_a_batch(bundled_index: Path) -> None:
    """int8 activations are quantised per batch: batching questions would make one's
    ranking depend on the others (an eval would disagree with `rag ask`)."""
    questions = [
        "Why did Russia lift the ban on the Taliban?",
        "What did the Supreme Court hearing decide, and who asked for it?",
        "x",
        "How many people died in the March 2024 concert hall attack near Moscow?" * 3,
    ]

    def fresh() -> Any:
        return api.Pipeline(settings_for(bundled_index, retrieval={"top_k": 8})).retriever()

    batched = fresh().search_many(questions, 8)
    for q, hits in zip(questions, batched, strict=True):
        alone = fresh().search(q, 8)
        assert [h.chunk.id for h in alone] == [h.chunk.id for h in hits]
        # equal up to BLAS rounding (a matrix product of another shape); batched int8
        # vectors differed by up to 1.4 % in cosine
        assert [h.score for h in alone] == pytest.approx([h.score for h in hits], abs=1e-5)
        assert [h.dense for h in alone] == pytest.approx([h.dense for h in hits], abs=1e-5)


@pytest.mark.parametrize(
    "retrieval",
    [{"reranker": "learned"}, {"reranker": "fusion"}, {"mode": "lexical"}, {"mode": "dense"}],
)
def test_many_questions_on_threads_rank_as_each_alone(
    news_index: Path, retrieval: dict[str, str]
) -> None:
    """search_many splits 150 questions into blocks searched on every core (the eval's
    path): the same rankings as one question at a time, in every mode."""
    base = [
        "Did TechCrunch and The Verge both report the fine over store fees?",
        "What did the regulator decide about the app maker, according to Fortune?",
        "Which phone has a larger battery?",
        "What happened in October 2023?",
        "fees",
    ]
    questions = [f"{q} ({i})" if i else q for i in range(30) for q in base]
    s = settings_for(news_index, retrieval={"top_k": 3, **retrieval})
    many = api.Pipeline(s).retriever().search_many(questions, 3)
    alone_retriever = api.Pipeline(s).retriever()
    for q, hits in zip(questions, many, strict=True):
        alone = alone_retriever.search(q, 3)
        assert [h.chunk.id for h in alone] == [h.chunk.id for h in hits], q
