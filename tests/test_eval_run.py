"""`rag eval` end to end on the bundled index: reports, resume, errors, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.cli import main
from rag.errors import IndexNotFoundError, InputError, UsageError
from rag.eval.runner import EvalOptions, Hooks, read_items, run_eval
from rag.store import open_index

from .conftest import GOLD, write

GROUP_KEYS = {
    "retrieval": {"hit@4", "hit@10", "mrr@10", "map@10", "recall@10", "ndcg@10"},
    "answer": {
        "exact_match",
        "f1",
        "containment",
        "abstain_precision",
        "abstain_recall",
        "crag_score",
        "strict",
        "key_points",
    },
    "citations": {"validity", "coverage", "precision", "recall"},
    "latency_ms": {"p50", "p95"},
}


def small_gold(tmp_path: Path, ids: tuple[str, ...] = ("q01", "q02", "q03", "q05", "q41", "q42")):
    lines = [x for x in GOLD.read_text(encoding="utf-8").splitlines() if x.strip()]
    keep = [x for x in lines if json.loads(x)["id"] in ids]
    return write(tmp_path / "gold.jsonl", "\n".join(keep) + "\n")


def strict_json(path: Path) -> Any:
    def no_constants(name: str) -> None:
        raise ValueError(f"{name} in {path}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def check_contract(report: dict[str, Any]) -> None:
    assert isinstance(report["n"], int) and isinstance(report["model"], str)
    assert isinstance(report["index"], str) and isinstance(report["config"], dict)
    for g, keys in GROUP_KEYS.items():
        assert set(report[g]) == keys, g
        for k, v in report[g].items():
            assert v is None or isinstance(v, float | int), (g, k, v)
            if v is not None and g not in ("latency_ms",):
                lo = -1.0 if k == "crag_score" else 0.0
                assert lo <= v <= 1.0, (g, k, v)
    for t, sub in report["per_type"].items():
        for g, keys in GROUP_KEYS.items():
            assert set(sub[g]) == keys, (t, g)
    assert isinstance(report["baselines"], dict)


# --------------------------------------------------------------------------- full runs


def test_full_run_writes_report_items_and_html(bundled_index: Path, tmp_path: Path) -> None:
    gold = small_gold(tmp_path)
    out = tmp_path / "run"
    res = run_eval(EvalOptions(gold=gold, index=bundled_index, out=out, resamples=200))
    report = strict_json(out / "report.json")
    check_contract(report)
    assert report == res.report
    assert report["n"] == 6 and report["model"] == "offline"
    assert report["config"]["top_k"] == 5 and report["config"]["retrieve_k"] == 10
    assert set(report["per_type"]) == {"why", "factoid", "date", "single-source", "unanswerable"}
    assert report["per_type"]["unanswerable"]["retrieval"]["hit@10"] is None
    assert report["counts"]["retrieval"]["hit@10"] == 4  # the two unanswerable: null
    assert report["usage"] == {"prompt_tokens": None, "completion_tokens": None, "cost_usd": None}
    assert report["latency_ms"]["p50"] > 0

    items = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    assert sorted(i["id"] for i in items) == ["q01", "q02", "q03", "q05", "q41", "q42"]
    n_chunks = open_index(bundled_index).n_chunks  # fewer than 10 in the bundled index
    for it in items:
        assert {"id", "type", "question", "gold", "answer", "abstained", "citations"} <= set(it)
        assert {"hits", "scores", "latency_ms"} <= set(it)
        assert set(it["gold"]) == {"answers", "sources", "evidence"}
        k = min(10, n_chunks)
        assert len(it["hits"]) == k and [h["rank"] for h in it["hits"]] == list(range(1, k + 1))
        assert set(it["hits"][0]) == {"rank", "doc_id", "chunk_id", "score"}
        # the answerer saw top-k = 5 of the 10 retrieved; a why question (q01) sees
        # retrieval.broad_top_k = 8
        shown = min(8 if it["id"] == "q01" else 5, k)
        assert it["shown"] == shown, it["id"]
        for c in it["citations"]:
            assert c["chunk_id"] in {h["chunk_id"] for h in it["hits"][:shown]}

    # the means in the report are the means of the item scores
    f1 = [i["scores"]["answer"]["f1"] for i in items if i["scores"]["answer"]["f1"] is not None]
    assert report["answer"]["f1"] == pytest.approx(sum(f1) / len(f1), abs=1e-4)

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page
    assert "Why did Russia lift the ban on the Taliban?" in page


def test_html_escapes_every_text(bundled_index: Path, tmp_path: Path) -> None:
    gold = write(
        tmp_path / "gold.jsonl",
        json.dumps(
            {
                "id": "<b>x</b>",
                "question": "Why did Russia <script>alert(1)</script> lift the ban?",
                "answers": ["<i>security</i>"],
                "type": "<svg onload=alert(1)>",
            }
        )
        + "\n",
    )
    out = tmp_path / "run"
    run_eval(EvalOptions(gold=gold, index=bundled_index, out=out, resamples=20))
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<svg onload" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;svg onload=alert(1)&gt;" in page


def test_resume_after_an_interrupted_run(bundled_index: Path, tmp_path: Path) -> None:
    gold = small_gold(tmp_path)
    out = tmp_path / "run"
    seen: list[str] = []

    def stop_after_three(rec: dict[str, Any]) -> None:
        seen.append(rec["id"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    opts = EvalOptions(gold=gold, index=bundled_index, out=out, resamples=100)
    with pytest.raises(KeyboardInterrupt):
        run_eval(opts, Hooks(on_item=stop_after_three))
    assert [r["id"] for r in read_items(out / "items.jsonl")] == seen
    assert not (out / "report.json").exists()

    # a run killed while writing leaves half a line: it is dropped and the item redone
    with open(out / "items.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "q05", "type": "da')

    # without --resume the folder is not overwritten
    with pytest.raises(InputError, match="already holds a run"):
        run_eval(EvalOptions(gold=gold, index=bundled_index, out=out))

    started: list[tuple[int, int]] = []
    resumed = run_eval(
        EvalOptions(gold=gold, index=bundled_index, out=out, resume=True, resamples=100),
        Hooks(on_start=lambda total, done: started.append((total, done))),
    )
    assert started == [(6, 3)] and resumed.resumed == 3
    ids = [json.loads(x)["id"] for x in (out / "items.jsonl").read_text().splitlines()]
    assert sorted(ids) == ["q01", "q02", "q03", "q05", "q41", "q42"]  # each exactly once

    # the resumed run scores exactly like an uninterrupted one
    fresh = run_eval(EvalOptions(gold=gold, index=bundled_index, out=tmp_path / "fresh"))
    for g in ("retrieval", "answer", "citations", "baselines"):
        assert resumed.report[g] == fresh.report[g], g


def test_resume_refuses_another_config(bundled_index: Path, tmp_path: Path) -> None:
    gold = small_gold(tmp_path, ("q01", "q02"))
    out = tmp_path / "run"
    run_eval(EvalOptions(gold=gold, index=bundled_index, out=out, resamples=20))
    with pytest.raises(InputError) as e:
        run_eval(EvalOptions(gold=gold, index=bundled_index, out=out, resume=True, top_k=3))
    msg = str(e.value)
    assert "top_k: 5 → 3" in msg and "retrieve_k" not in msg and "\n" not in msg
    write(gold, gold.read_text() + '{"id": "new", "question": "Who?"}\n')
    with pytest.raises(InputError, match="gold_sha256"):
        run_eval(EvalOptions(gold=gold, index=bundled_index, out=out, resume=True))
    with pytest.raises(InputError, match="holds no run"):
        run_eval(EvalOptions(gold=gold, index=bundled_index, out=tmp_path / "x", resume=True))
    with pytest.raises(UsageError, match="--resume needs --out"):
        run_eval(EvalOptions(gold=gold, index=bundled_index, resume=True))


def test_retrieval_only_batches_and_scores_retrieval(bundled_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = run_eval(
        EvalOptions(gold=GOLD, index=bundled_index, out=out, retrieval_only=True, batch_size=16)
    )
    r = strict_json(out / "report.json")
    check_contract(r)
    assert r["n"] == 74 and r["config"]["retrieval_only"] is True
    assert r["counts"]["retrieval"]["hit@10"] == 64  # the answerable questions
    assert all(v is None for v in r["answer"].values())
    assert all(v is None for v in r["citations"].values())
    assert r["latency_ms"] == {"p50": None, "p95": None}
    assert 0.0 < r["retrieval"]["mrr@10"] <= 1.0
    assert all(rec["answer"] is None for rec in res.records)
    # the same hits as one search per question
    from rag.api import Pipeline
    from rag.config import load_settings

    p = Pipeline(load_settings(index={"dir": bundled_index}))
    first = next(x for x in res.records if x["id"] == "q07")
    hits = p.retriever().search(first["question"], 10)
    assert [h.chunk.id for h in hits] == [h["chunk_id"] for h in first["hits"]]


def test_all_null_metrics_are_null_not_nan(bundled_index: Path, tmp_path: Path) -> None:
    gold = small_gold(tmp_path, ("q41", "q42", "q43"))  # only unanswerable questions
    out = tmp_path / "run"
    run_eval(EvalOptions(gold=gold, index=bundled_index, out=out, resamples=50))
    r = strict_json(out / "report.json")  # a NaN or Infinity would fail here
    check_contract(r)
    assert all(v is None for v in r["retrieval"].values())
    assert r["answer"]["exact_match"] is None and r["answer"]["crag_score"] is not None
    assert r["intervals"]["retrieval"]["map@10"] is None
    text = (out / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text


# --------------------------------------------------------------------------- CLI


def test_cli_run_and_compare(
    capsys: pytest.CaptureFixture[str], bundled_index: Path, tmp_path: Path
) -> None:
    gold = small_gold(tmp_path, ("q01", "q03", "q41"))
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, _ = run(capsys, "eval", str(gold), "--index", str(bundled_index), "--out", str(a))
    assert code == 0 and "retrieval" in out and "baselines" in out and str(a) in out
    code, out, _ = run(
        capsys, "eval", str(gold), "--index", str(bundled_index), "--out", str(b), "--top-k", "1"
    )
    assert code == 0
    code, out, _ = run(capsys, "eval", "compare", str(a), str(b), "--json")
    assert code == 0
    c = json.loads(out)
    assert c["n_common"] == 3
    row = c["metrics"]["retrieval.hit@10"]
    assert row["delta"] == 0.0  # retrieval always scores the top 10, whatever top-k shows
    code, out, _ = run(capsys, "eval", "compare", str(a), str(b))
    assert code == 0 and "B − A" in out and "answer.crag_score" in out


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (['{"id": "a", "question": "Why?"}', '{"id": "b", "question": '], ":2: invalid JSON"),
        (['{"id": "a", "question": "Why?"}', "", '{"id": "c", "answers": []}'], ":3: missing"),
        (
            [
                '{"id": "a", "question": "Why?", "sources": ["russia-lifts-ban-on-taliban"]}',
                '{"id": "b", "question": "Who?", "sources": ["no-such-article"]}',
            ],
            ":2: unknown document id 'no-such-article'",
        ),
    ],
)
def test_cli_malformed_gold_fails_naming_the_line(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    tmp_path: Path,
    lines: list[str],
    needle: str,
) -> None:
    gold = write(tmp_path / "bad.jsonl", "\n".join(lines) + "\n")
    code, out, err = run(capsys, "eval", str(gold), "--index", str(bundled_index))
    line = one_line(err)
    assert code == 2 and out == ""
    assert f"{gold}{needle}" in line, line
    assert not (tmp_path / "runs").exists()  # nothing was written


def test_cli_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], bundled_index: Path, tmp_path: Path
) -> None:
    gold = small_gold(tmp_path, ("q01",))
    code, _, err = run(capsys, "eval", str(gold), "--index", str(tmp_path / "none"))
    assert code == 1 and "no index at" in one_line(err)
    code, _, err = run(capsys, "eval", str(gold), "--bogus")
    assert code == 2 and "No such option: --bogus" in one_line(err)
    code, _, err = run(capsys, "eval", str(gold), "--format", "csv", "--index", str(bundled_index))
    assert code == 2 and "unknown --format 'csv'" in one_line(err)
    code, _, err = run(capsys, "eval", str(gold), "--index", str(bundled_index), "--top-k", "99")
    assert code == 2 and "top-k 99 is out of range; use 1 to 50" in one_line(err)
    code, _, err = run(capsys, "eval", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl not found" in one_line(err)
    code, _, err = run(capsys, "eval", "compare", str(tmp_path), str(tmp_path))
    assert code == 2 and "not a run folder" in one_line(err)


def test_missing_index_is_a_rag_error(tmp_path: Path) -> None:
    gold = small_gold(tmp_path, ("q01",))
    with pytest.raises(IndexNotFoundError):
        run_eval(EvalOptions(gold=gold, index=tmp_path / "none"))
