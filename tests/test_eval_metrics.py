"""Eval metrics on small hand-made cases whose values are worked out in the comments."""

from __future__ import annotations

import math

import pytest

from rag.eval import metrics as m
from rag.eval.report import baselines, build_report, compare, summarize

R = m.Ranked


def chunks(*texts: str, doc: str = "d") -> list[m.Ranked]:
    return [R(doc, t) for t in texts]


# --------------------------------------------------------------------------- retrieval


def test_multihop_map_worked_example() -> None:
    # Three gold facts F1, F2, F3. The ranked top 10:
    #   rank 1: holds F2            → F2 is new: add 1/1      = 1.0
    #   rank 2: nothing
    #   rank 3: holds F2 again      → nothing new: add 0
    #   rank 4: holds F1 and F3     → two new:     add 2/4    = 0.5
    #   ranks 5..10: nothing
    # MAP@10 = (1.0 + 0.5) / min(3 facts, 10) = 1.5 / 3 = 0.5
    # MRR@10 = 1/1; hit@4 = hit@10 = 1; recall@10 = 3/3.
    # nDCG@10: new targets at ranks 1 and 4 → DCG = 1/log2(2) + 1/log2(5) = 1.430677;
    #   ideal = three such ranks at the top = 1 + 1/log2(3) + 1/log2(4) = 2.130930;
    #   nDCG = 0.671394.
    facts = [
        "Fact one is about   the court.",  # white space is ignored on both sides
        "Fact two: the ban was lifted.",
        "Fact three\nspans a line break.",
    ]
    ranked = chunks(
        "Intro. Fact two: the ban was lifted. More.",
        "Unrelated text.",
        "Again:   Fact two:  the ban  was lifted.",
        "Fact one is about the court. And Fact three spans a line break. End.",
        *["filler"] * 6,
    )
    s = m.retrieval_scores(ranked, facts, ["d"])
    assert s["map@10"] == pytest.approx(0.5)
    assert s["mrr@10"] == 1.0 and s["hit@4"] == 1.0 and s["hit@10"] == 1.0
    assert s["recall@10"] == 1.0
    assert s["ndcg@10"] == pytest.approx(1.430677 / 2.130930, abs=1e-6)


def test_map_divides_by_at_most_ten_and_counts_only_the_top_ten() -> None:
    # 12 facts; rank 1 holds facts 0-2 (3 new → 3/1), rank 5 holds fact 3 (→ 1/5),
    # rank 11 holds facts 4-11 but is beyond the cutoff.
    # MAP@10 = (3 + 0.2) / min(12, 10) = 0.32; recall@10 = 4/12; first hit at 1.
    facts = [f"fact number {i} here" for i in range(12)]
    ranked = chunks(
        " ".join(facts[0:3]),
        "x",
        "x",
        "x",
        facts[3],
        *["x"] * 5,
        " ".join(facts[4:]),
    )
    s = m.retrieval_scores(ranked, facts, [])
    assert s["map@10"] == pytest.approx(0.32)
    assert s["recall@10"] == pytest.approx(4 / 12)
    assert s["hit@4"] == 1.0


def test_first_relevant_at_rank_five() -> None:
    # Only rank 5 is relevant: hit@4 = 0, hit@10 = 1, MRR = 1/5, MAP = (1/5)/1 = 0.2,
    # nDCG = (1/log2(6)) / (1/log2(2)) = 0.386853.
    ranked = chunks("a", "b", "c", "d", "the fact", "f")
    s = m.retrieval_scores(ranked, ["the fact"], [])
    assert s == pytest.approx(
        {
            "hit@4": 0.0,
            "hit@10": 1.0,
            "recall@10": 1.0,
            "mrr@10": 0.2,
            "map@10": 0.2,
            "ndcg@10": 1 / math.log2(6),
        }
    )


def test_nothing_relevant_scores_zero_not_null() -> None:
    s = m.retrieval_scores(chunks("a", "b"), ["zzz"], [])
    assert s == dict.fromkeys(s, 0.0)


def test_relevance_by_source_document_without_evidence() -> None:
    # Sources d1, d2 (the "facts" to cover). Ranks: d3, d1, d1, d2.
    # New at rank 2 (d1) and rank 4 (d2): MAP = (1/2 + 1/4) / 2 = 0.375; MRR = 1/2;
    # hit@4 = 1; recall = 2/2.
    ranked = [R("d3", "x"), R("d1", "x"), R("d1", "y"), R("d2", "z")]
    s = m.retrieval_scores(ranked, [], ["d1", "d2"])
    assert s["map@10"] == pytest.approx(0.375)
    assert s["mrr@10"] == 0.5 and s["hit@4"] == 1.0 and s["recall@10"] == 1.0


def test_no_evidence_no_sources_is_null() -> None:
    s = m.retrieval_scores(chunks("a"), [], [])
    assert set(s) == {"hit@4", "hit@10", "recall@10", "mrr@10", "map@10", "ndcg@10"}
    assert all(v is None for v in s.values())


# --------------------------------------------------------------------------- answers


def test_normalize_is_squad_style() -> None:
    assert m.normalize("The  U.S.-led Forces!") == "usled forces"
    assert m.normalize("Russia’s “security”") == "russias security"
    assert m.normalize("concerns—posed") == "concerns posed"  # an em dash separates words


def test_exact_match_f1_containment() -> None:
    aliases = ["Sam Bankman-Fried", "SBF"]
    assert m.exact_match("sam bankman-fried.", aliases) == 1.0
    assert m.exact_match("It was Sam Bankman-Fried", aliases) == 0.0
    # pred tokens: security concerns posed by militants (5), gold: security concerns (2)
    # common 2 → P = 2/5, R = 2/2 → F1 = 2·0.4·1/1.4 = 0.571429
    assert m.token_f1("Security concerns posed by militants.", ["security concerns"]) == (
        pytest.approx(0.571429, abs=1e-6)
    )
    assert m.token_f1("nothing shared", ["security concerns"]) == 0.0
    assert m.containment("It was driven by security concerns.", ["security concerns"]) == 1.0
    # whole words only: "bank" is not in "sam bankmanfried"
    assert m.containment("Sam Bankman-Fried did it", ["Bank"]) == 0.0
    assert m.containment("anything", []) is None


def test_answer_scores_outcomes() -> None:
    gold = ["2003", "in 2003"]
    right = m.answer_scores("It was designated in 2003 [1].", False, gold)
    assert right["containment"] == 1.0 and right["crag_score"] == 1.0
    assert right["exact_match"] == 0.0
    assert m.answer_scores("2003 [1]", False, gold)["exact_match"] == 1.0  # marker stripped
    wrong = m.answer_scores("In 2005 [2].", False, gold)
    assert wrong["crag_score"] == -1.0 and wrong["containment"] == 0.0
    # an abstention scores as an empty answer even if its text quotes the question
    abst = m.answer_scores("The indexed articles don't say — … “2003”", True, gold)
    assert abst["containment"] == 0.0 and abst["crag_score"] == 0.0
    assert abst["abstain_precision"] == 0.0 and abst["abstain_recall"] is None
    # unanswerable: abstaining is right (+1), answering is wrong (−1); EM/F1 are null
    ok = m.answer_scores("The indexed articles don't say", True, [])
    bad = m.answer_scores("Something made up [1].", False, [])
    assert ok["crag_score"] == 1.0 and bad["crag_score"] == -1.0
    assert ok["exact_match"] is None and ok["f1"] is None and ok["containment"] is None
    assert ok["abstain_precision"] == 1.0 and ok["abstain_recall"] == 1.0
    assert bad["abstain_precision"] is None and bad["abstain_recall"] == 0.0
    # a judge's verdict overrides containment
    assert m.answer_scores("in 2003", False, gold, correct=False)["crag_score"] == -1.0
    assert m.answer_scores("around then", False, gold, correct=True)["crag_score"] == 1.0


# --------------------------------------------------------------------------- citations


def test_citation_scores() -> None:
    # raw markers 2, 4, 9 with 5 passages shown → validity 2/3
    # shown text: 3 sentences, 2 with a marker → coverage 2/3
    # citation 1 (d1) holds the fact, citation 2 (d2) does not → precision 1/2
    # gold sources d1, d3; cited d1, d2 → recall 1/2
    cited = [
        m.Cited(1, "d1", "The court lifted the ban on Thursday."),
        m.Cited(2, "d2", "Weather was fine."),
    ]
    s = m.citation_scores(
        "Alpha [1]. Beta gamma. Delta [2].",
        "Alpha [2]. Beta gamma. Delta [4][9].",
        False,
        5,
        cited,
        ["The court lifted the ban"],  # case matters, as in MultiHop-RAG
        ["d1", "d3"],
    )
    assert s == pytest.approx(
        {"validity": 2 / 3, "coverage": 2 / 3, "precision": 0.5, "recall": 0.5}
    )


def test_citation_scores_null_cases() -> None:
    cited = [m.Cited(1, "d1", "text")]
    abstained = m.citation_scores("x", "x [1]", True, 5, cited, ["text"], ["d1"])
    assert all(v is None for v in abstained.values())
    no_markers = m.citation_scores("Plain answer.", "Plain answer.", False, 5, [], [], ["d1"])
    assert no_markers["validity"] is None and no_markers["precision"] is None
    assert no_markers["coverage"] == 0.0 and no_markers["recall"] == 0.0
    no_gold = m.citation_scores("A [1].", "A [1].", False, 5, cited, [], [])
    assert no_gold["precision"] is None and no_gold["recall"] is None
    assert no_gold["validity"] == 1.0 and no_gold["coverage"] == 1.0
    # without evidence a citation is relevant when it comes from a gold source
    by_doc = m.citation_scores("A [1].", "A [1].", False, 5, cited, [], ["d1"])
    assert by_doc["precision"] == 1.0


def test_cited_pairs() -> None:
    cited = [m.Cited(1, "d1", "p1"), m.Cited(2, "d2", "p2")]
    pairs = m.cited_pairs("First claim [1][2]. Second claim [2]. Third.", cited)
    assert [(s, c.n) for s, c in pairs] == [
        ("First claim.", 1),
        ("First claim.", 2),
        ("Second claim.", 2),
    ]


def test_percentile() -> None:
    assert m.percentile([], 50) is None
    assert m.percentile([10.0], 95) == 10.0
    # linear interpolation: position (4 − 1)·0.5 = 1.5 → 2 + 0.5·(3 − 2) = 2.5
    assert m.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    # position 3·0.95 = 2.85 → 3 + 0.85·(4 − 3) = 3.85
    assert m.percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)


# --------------------------------------------------------------------------- aggregates


def rec(i: int, typ: str, answers: list[str], **scores: dict) -> dict:
    return {
        "id": f"q{i}",
        "pos": i,
        "type": typ,
        "question": f"question {i}?",
        "gold": {"answers": answers, "sources": [], "evidence": []},
        "scores": scores,
        "latency_ms": None,
    }


def test_means_skip_nulls_and_report_counts() -> None:
    rs = [
        rec(1, "a", ["x"], answer={"f1": 1.0, "crag_score": 1.0}),
        rec(2, "a", ["x"], answer={"f1": None, "crag_score": -1.0}),
        rec(3, "b", [], answer={"f1": 0.5, "crag_score": 0.0}),
    ]
    s = summarize(rs, resamples=200)
    assert s["answer"]["f1"] == 0.75 and s["counts"]["answer"]["f1"] == 2
    assert s["answer"]["crag_score"] == 0.0 and s["counts"]["answer"]["crag_score"] == 3
    assert s["answer"]["exact_match"] is None and s["counts"]["answer"]["exact_match"] == 0
    assert s["intervals"]["answer"]["exact_match"] is None
    lo, hi = s["intervals"]["answer"]["f1"]
    assert 0.5 <= lo <= 0.75 <= hi <= 1.0
    assert s["latency_ms"] == {"p50": None, "p95": None}
    # seeded: the same records give the same intervals
    assert summarize(rs, resamples=200)["intervals"] == s["intervals"]


def test_abstention_precision_and_recall_aggregate_as_ratios() -> None:
    # abstained on: q1 (unanswerable), q2 (answerable); answered q3 (unanswerable), q4
    # precision = 1 of 2 abstentions was right = 0.5; recall = 1 of 2 unanswerable = 0.5
    rows = [
        m.answer_scores("", True, []),
        m.answer_scores("", True, ["x"]),
        m.answer_scores("made up", False, []),
        m.answer_scores("x", False, ["x"]),
    ]
    rs = [rec(i, "t", [], answer=row) for i, row in enumerate(rows)]
    s = summarize(rs, resamples=0)
    assert s["answer"]["abstain_precision"] == 0.5
    assert s["answer"]["abstain_recall"] == 0.5
    assert s["answer"]["crag_score"] == pytest.approx((1 + 0 - 1 + 1) / 4)


def test_baselines() -> None:
    # type A: x, x, y → majority x; type B: (none), (none), z → majority: abstain
    # overall answers: x ×2, y, z → constant "x", kitchen sink "x y z"
    rs = [
        rec(1, "A", ["x"]),
        rec(2, "A", ["x"]),
        rec(3, "A", ["y"]),
        rec(4, "B", []),
        rec(5, "B", []),
        rec(6, "B", ["z"]),
    ]
    b = baselines(rs)
    maj = b["majority_per_type"]
    assert maj["answers"] == {"A": "x", "B": None}
    # answerable items q1 q2 q3 q6 → EM 1, 1, 0, 0 (q6 abstains) = 0.5
    # outcomes: +1 +1 −1 (q3 wrong) +1 +1 (B abstains, right) 0 (q6 abstains) → 3/6
    assert maj["exact_match"] == 0.5 and maj["crag_score"] == 0.5
    assert b["constant"]["answer"] == "x" and b["constant"]["containment"] == 0.5
    sink = b["kitchen_sink"]
    assert sink["answer"] == "x y z"
    assert sink["containment"] == 1.0 and sink["exact_match"] == 0.0
    # all 4 answerable "correct" by containment, both unanswerable answered: (4 − 2) / 6
    assert sink["crag_score"] == pytest.approx(2 / 6, abs=1e-4)
    ab = b["always_abstain"]
    assert ab["crag_score"] == pytest.approx(2 / 6, abs=1e-4) and ab["abstain_recall"] == 1.0
    assert ab["abstain_precision"] == pytest.approx(2 / 6, abs=1e-4)


def test_report_keeps_the_contract_and_has_no_nan() -> None:
    rs = [rec(1, "t", [], answer={"f1": None})]
    r = build_report(rs, {"model": "offline", "index": "ix"}, resamples=50)
    assert {"n", "model", "index", "config", "retrieval", "answer", "citations"} <= set(r)
    assert {"latency_ms", "per_type", "baselines"} <= set(r)
    assert set(r["retrieval"]) == {"hit@4", "hit@10", "mrr@10", "map@10", "recall@10", "ndcg@10"}
    assert set(r["citations"]) == {"validity", "coverage", "precision", "recall"}
    assert all(v is None for v in r["retrieval"].values())


def test_compare_pairs_items_and_lists_flips() -> None:
    def r(i: int, crag: float, hit: float) -> dict:
        return rec(i, "t", ["x"], answer={"crag_score": crag}, retrieval={"hit@10": hit})

    a = [r(1, 1.0, 1.0), r(2, -1.0, 0.0), r(3, 1.0, 1.0), r(4, 0.0, 1.0)]
    b = [r(1, -1.0, 0.0), r(2, 1.0, 1.0), r(3, 1.0, 1.0), r(5, 1.0, 1.0)]
    c = compare(a, b, resamples=200)
    assert c["n_common"] == 3 and c["only_a"] == 1 and c["only_b"] == 1
    row = c["metrics"]["answer.crag_score"]
    # common q1..q3: A = (1 − 1 + 1)/3, B = (−1 + 1 + 1)/3 → Δ = 0
    assert row["delta"] == 0.0 and row["n"] == 3
    assert [x["id"] for x in c["flips"]["correct_to_wrong"]] == ["q1"]
    assert [x["id"] for x in c["flips"]["wrong_to_correct"]] == ["q2"]
    assert [x["id"] for x in c["flips"]["hit@10_lost"]] == ["q1"]
    assert [x["id"] for x in c["flips"]["hit@10_gained"]] == ["q2"]
    lo, hi = row["interval"]
    assert lo <= 0.0 <= hi


def test_strict_accuracy_reads_the_first_yes_or_no() -> None:
    assert m.strict_correct("Yes. TechCrunch says so [1].", False, ["Yes"]) == 1.0
    assert m.strict_correct("No, not yes [1].", False, ["Yes"]) == 0.0  # first word decides
    assert m.strict_correct("yes or no", False, ["no"]) == 0.0  # containment would pass it
    assert m.strict_correct("It did not say [1].", False, ["no"]) == 0.0  # no yes/no word
    assert m.strict_correct("Google: it paid [1].", False, ["Google"]) == 1.0
    assert m.strict_correct("anything", True, ["Google"]) == 0.0  # abstained
    assert m.strict_correct("The indexed articles don't say", True, []) == 1.0
    assert m.strict_correct("Made up [1].", False, []) == 0.0
    assert m.answer_scores("No. It differs [1].", False, ["no"])["strict"] == 1.0


def test_key_point_recall_counts_points_covered() -> None:
    points = [["security"], ["energy", "transit route"], ["China", "Kazakhstan"]]
    assert m.key_point_recall("Security [1] and a transit route [2].", points) == 2 / 3
    assert m.key_point_recall("SECURITY, energy, china", points) == 1.0  # case ignored
    assert m.key_point_recall("nothing", points) == 0.0
    assert m.key_point_recall("x", []) is None
    s = m.answer_scores("Security concerns [1].", False, ["security"], None, points)
    assert s["key_points"] == 1 / 3
    assert m.answer_scores("x", True, [], None, points)["key_points"] is None
