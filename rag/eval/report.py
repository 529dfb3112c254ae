"""Aggregates of a run: report.json, report.html, and compare (the terminal's tables are
in `rag.eval.report_text`).

report.json (the contract; keys may be added, never changed):
    {"n", "model", "index", "config",
     "retrieval": {"hit@4", "hit@10", "mrr@10", "map@10", "recall@10", "ndcg@10"},
     "answer": {"strict", "exact_match", "f1", "containment", "key_points",
                "abstain_precision", "abstain_recall", "crag_score"},
     "citations": {"validity", "coverage", "precision", "recall"},
     "support": {"supported"},
     "latency_ms": {"p50", "p95"},
     "per_type": {TYPE: {same groups}}, "baselines": {...}}
plus "counts" (items each metric applies to), "intervals" (bootstrap 95%), "usage",
"judge" (with --judge) and "timing". Every metric is the mean over the items where it
applies; a metric that applies to none is null. Nothing is ever NaN: the file is written
with `allow_nan=False`.

Intervals: percentile bootstrap over items (seeded, `resamples` draws), the same draws
for every metric of a group so that they are comparable. `compare` draws the common
items of two runs in pairs and reports B − A.

What it does not do: run anything; it reads item records (items.jsonl lines).
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.eval import metrics

GROUPS: dict[str, tuple[str, ...]] = {
    "retrieval": ("hit@4", "hit@10", "mrr@10", "map@10", "recall@10", "ndcg@10"),
    "answer": (
        "strict",
        "exact_match",
        "f1",
        "containment",
        "key_points",
        "abstain_precision",
        "abstain_recall",
        "crag_score",
    ),
    "citations": ("validity", "coverage", "precision", "recall"),
    "support": ("supported",),  # share of claim sentences the check found supported
}
JUDGE_KEYS = ("correct", "support")
ANSWER_KEYS = GROUPS["answer"]
Record = dict[str, Any]


def _groups(records: Sequence[Record]) -> dict[str, tuple[str, ...]]:
    g = dict(GROUPS)
    if any("judge" in r.get("scores", {}) for r in records):
        g["judge"] = JUDGE_KEYS
    return g


def _values(records: Sequence[Record], group: str, key: str) -> list[float | None]:
    out: list[float | None] = []
    for r in records:
        v = (r.get("scores", {}).get(group) or {}).get(key)
        out.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
    return out


# --------------------------------------------------------------------------- bootstrap


def _draws(n: int, resamples: int, seed: int, label: str) -> Any:
    import numpy as np

    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
    return rng.integers(0, n, size=(resamples, n))


def _ratio_means(values: Sequence[float | None], draws: Any) -> Any:
    """Mean over the non-null values of each resample (NaN where a resample has none)."""
    import numpy as np

    v = np.array([0.0 if x is None else x for x in values], dtype=float)
    m = np.array([x is not None for x in values], dtype=float)
    sums = v[draws].sum(axis=1)
    counts = m[draws].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _interval(samples: Any) -> list[float] | None:
    import numpy as np

    ok = samples[~np.isnan(samples)]
    if ok.size == 0:
        return None
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return [_r(float(lo)), _r(float(hi))]


def _r(x: float | None, nd: int = 4) -> float | None:
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return round(x, nd)


# --------------------------------------------------------------------------- aggregate


def summarize(
    records: Sequence[Record], *, seed: int = 0, resamples: int = 1000, label: str = "all"
) -> dict[str, Any]:
    """Groups of means, with counts, intervals, latency and usage, of some records."""
    out: dict[str, Any] = {"n": len(records)}
    counts: dict[str, dict[str, int]] = {}
    intervals: dict[str, dict[str, list[float] | None]] = {}
    draws = _draws(len(records), resamples, seed, label) if records and resamples else None
    for group, keys in _groups(records).items():
        out[group], counts[group], intervals[group] = {}, {}, {}
        for k in keys:
            vals = _values(records, group, k)
            out[group][k] = _r(metrics.mean(vals))
            counts[group][k] = sum(v is not None for v in vals)
            ci = None
            if draws is not None and counts[group][k]:
                ci = _interval(_ratio_means(vals, draws))
            intervals[group][k] = ci
    lat = [float(r["latency_ms"]) for r in records if r.get("latency_ms") is not None]
    out["latency_ms"] = {
        "p50": _r(metrics.percentile(lat, 50), 2),
        "p95": _r(metrics.percentile(lat, 95), 2),
    }
    counts["latency_ms"] = {"p50": len(lat), "p95": len(lat)}
    out["counts"] = counts
    out["intervals"] = intervals
    out["usage"] = _usage(records)
    return out


def _usage(records: Sequence[Record]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("prompt_tokens", "completion_tokens", "cost_usd"):
        vals = [(r.get("usage") or {}).get(k) for r in records]
        known = [v for v in vals if v is not None]
        out[k] = (round(sum(known), 6) if k == "cost_usd" else int(sum(known))) if known else None
    return out


def build_report(
    records: Sequence[Record],
    config: dict[str, Any],
    *,
    seed: int = 0,
    resamples: int = 1000,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report.json object of a run."""
    records = sorted(records, key=lambda r: (r.get("pos", 0), r["id"]))
    overall = summarize(records, seed=seed, resamples=resamples)
    types = sorted({r.get("type", "untyped") for r in records})
    per_type = {}
    for t in types:
        sub = [r for r in records if r.get("type", "untyped") == t]
        per_type[t] = summarize(sub, seed=seed, resamples=resamples, label=f"type:{t}")
        per_type[t].pop("usage", None)
    report: dict[str, Any] = {
        "n": len(records),
        "model": str(config.get("model", "")),
        "index": str(config.get("index", "")),
        "config": config,
    }
    for g in _groups(records):
        report[g] = overall[g]
    report["latency_ms"] = overall["latency_ms"]
    report["per_type"] = per_type
    report["baselines"] = baselines(records)
    report["counts"] = overall["counts"]
    report["intervals"] = overall["intervals"]
    report["usage"] = overall["usage"]
    report["bootstrap"] = {"resamples": resamples, "seed": seed, "level": 0.95}
    if extra:
        report.update(extra)
    return report


# --------------------------------------------------------------------------- baselines


def baselines(records: Sequence[Record]) -> dict[str, Any]:
    """Trivial answerers scored with the same answer metrics, to judge a number by.

    - majority_per_type: the most common gold answer of the item's type (abstains for a
      type whose most common "answer" is none);
    - constant: the most common gold answer overall;
    - kitchen_sink: the 5 most common answers in one string (games containment);
    - always_abstain.
    Answers are counted by their first alias, normalised; ties go to the one seen first.
    """
    golds = [(r.get("type", "untyped"), list(r["gold"]["answers"])) for r in records]
    if not golds:
        return {}
    overall: Counter[str] = Counter()
    shown: dict[str, str] = {}
    by_type: dict[str, Counter[str]] = {}
    for t, answers in golds:
        key = metrics.normalize(answers[0]) if answers else ""
        if answers:
            overall[key] += 1
            shown.setdefault(key, answers[0])
        by_type.setdefault(t, Counter())[key] += 1
    top = [shown[k] for k, _ in overall.most_common(5)]
    majority = {
        t: (shown[c.most_common(1)[0][0]] if c.most_common(1)[0][0] else None)
        for t, c in by_type.items()
    }

    def score(pick: Any) -> dict[str, Any]:
        rows = []
        for t, answers in golds:
            text = pick(t)
            rows.append(metrics.answer_scores(text or "", text is None, answers))
        return {k: _r(metrics.mean([row[k] for row in rows])) for k in ANSWER_KEYS}

    out: dict[str, Any] = {}
    out["majority_per_type"] = {"answers": majority, **score(lambda t: majority[t])}
    if top:
        const, sink = top[0], " ".join(top)
        out["constant"] = {"answer": const, **score(lambda t: const)}
        out["kitchen_sink"] = {"answer": sink, **score(lambda t: sink)}
    out["always_abstain"] = {"answer": None, **score(lambda t: None)}
    return out


# --------------------------------------------------------------------------- writing


def write_reports(out: Path, report: dict[str, Any], records: Sequence[Record]) -> None:
    """report.json (strict JSON: no NaN) and report.html, each written aside and renamed."""
    text = json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False)
    _atomic(out / "report.json", text + "\n")
    _atomic(out / "report.html", render_html(report, records))


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_run(run: Path) -> tuple[dict[str, Any], list[Record]]:
    """(report.json or {} when the run was not finished, item records) of a run folder."""
    from rag.errors import InputError
    from rag.eval.runner import ITEMS_FILE, REPORT_JSON, read_items

    run = Path(run)
    if not (run / ITEMS_FILE).is_file():
        raise InputError(f"{run} is not a run folder (no {ITEMS_FILE}); pass an OUT of rag eval")
    report: dict[str, Any] = {}
    if (run / REPORT_JSON).is_file():
        try:
            report = json.loads((run / REPORT_JSON).read_text(encoding="utf-8"))
        except ValueError as e:
            raise InputError(f"{run / REPORT_JSON} is not JSON ({e}); rerun the eval") from None
    return report, read_items(run / ITEMS_FILE)


# --------------------------------------------------------------------------- terminal


def fmt(v: Any, ci: Sequence[float] | None = None, nd: int = 3) -> str:
    if v is None:
        return "—"
    s = f"{v:.{nd}f}"
    if ci:
        s += f" [{ci[0]:.{nd - 1}f}, {ci[1]:.{nd - 1}f}]"
    return s


# --------------------------------------------------------------------------- HTML

_CHARTS = [
    ("retrieval", "hit@10"),
    ("retrieval", "mrr@10"),
    ("retrieval", "map@10"),
    ("answer", "containment"),
    ("answer", "f1"),
    ("answer", "crag_score"),
    ("citations", "precision"),
    ("citations", "coverage"),
    ("judge", "correct"),
    ("judge", "support"),
]


def _chart(report: dict[str, Any], group: str, key: str) -> dict[str, Any] | None:
    """Bars (overall, then each type) with interval whiskers, in SVG coordinates."""
    if (report.get(group) or {}).get(key) is None:
        return None
    lo_v = -1.0 if key == "crag_score" else 0.0
    width, label_w, bar_h, gap = 260.0, 130.0, 16.0, 6.0
    rows = [("all", report), *sorted(report["per_type"].items())]

    def x(v: float) -> float:
        return label_w + (v - lo_v) / (1.0 - lo_v) * width

    bars = []
    for i, (name, src) in enumerate(rows):
        v = (src.get(group) or {}).get(key)
        ci = ((src.get("intervals") or {}).get(group) or {}).get(key)
        y = 4 + i * (bar_h + gap)
        bar: dict[str, Any] = {
            "label": name,
            "y": y,
            "ty": y + bar_h - 4,
            "value": fmt(v),
            "neg": v is not None and v < 0,
        }
        if v is not None:
            a, b = sorted((x(max(lo_v, 0.0)), x(v)))
            bar.update(x=round(a, 1), w=round(max(b - a, 1.0), 1), tx=round(x(1.0) + 6, 1))
            if ci:
                bar["ci"] = {"x1": round(x(ci[0]), 1), "x2": round(x(ci[1]), 1), "y": y + bar_h / 2}
        else:
            bar.update(tx=round(x(1.0) + 6, 1))
        bars.append(bar)
    return {
        "title": f"{group} · {key}",
        "height": 8 + len(rows) * (bar_h + gap),
        "width": label_w + width + 60,
        "bar_h": bar_h,
        "zero": round(x(max(lo_v, 0.0)), 1),
        "one": round(x(1.0), 1),
        "bars": bars,
    }


def worst_items(records: Sequence[Record], n: int = 20) -> list[Record]:
    """The items that went most wrong: wrong answers first, then low F1, then low MRR."""

    def badness(r: Record) -> tuple[float, float, float, float]:
        s = r.get("scores", {})
        a, ret = s.get("answer") or {}, s.get("retrieval") or {}

        def v(x: Any, default: float) -> float:
            return default if x is None else float(x)

        return (
            v(a.get("crag_score"), 0.0),
            v(a.get("f1"), 1.0),
            v(ret.get("mrr@10"), 1.0),
            v(ret.get("map@10"), 1.0),
        )

    scored = [r for r in records if r.get("scores")]
    return sorted(scored, key=lambda r: (badness(r), r.get("pos", 0)))[:n]


def render_html(report: dict[str, Any], records: Sequence[Record]) -> str:
    """A self-contained page: inline CSS and SVG, no scripts, no network; all text escaped."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = fmt
    template = env.get_template("report.html.j2")
    groups = [g for g in (*GROUPS, "judge") if g in report]
    charts = [c for g, k in _charts_for(report) if (c := _chart(report, g, k))]
    worst = []
    for r in worst_items(records):
        s = r.get("scores", {})
        worst.append(
            {
                "id": r["id"],
                "type": r.get("type", ""),
                "question": r.get("question", ""),
                "gold": " | ".join(r["gold"]["answers"]) or "(abstain)",
                "answer": _shorten(
                    r.get("answer") or ("(abstained)" if r.get("abstained") else "")
                ),
                "crag": fmt((s.get("answer") or {}).get("crag_score"), nd=0),
                "f1": fmt((s.get("answer") or {}).get("f1"), nd=2),
                "hit10": fmt((s.get("retrieval") or {}).get("hit@10"), nd=0),
                "mrr": fmt((s.get("retrieval") or {}).get("mrr@10"), nd=2),
            }
        )
    retrieval_only = bool(report.get("config", {}).get("retrieval_only"))
    sections = [(f"g-{g}", g) for g in groups if not (retrieval_only and g != "retrieval")]
    if not retrieval_only:
        sections.append(("latency", "latency"))
    if charts:
        sections.append(("by-type", "by type"))
    if report.get("baselines") and not retrieval_only:
        sections.append(("baselines", "baselines"))
    sections += [("worst", f"worst items ({len(worst)})"), ("config", "config")]
    return template.render(
        report=report,
        sections=sections,
        groups=[(g, GROUPS.get(g, JUDGE_KEYS)) for g in groups],
        types=sorted(report.get("per_type", {}).items()),
        charts=charts,
        worst=worst,
        config_json=json.dumps(report.get("config", {}), indent=2, ensure_ascii=False),
        answer_keys=ANSWER_KEYS,
        retrieval_only=retrieval_only,
    )


def _charts_for(report: dict[str, Any]) -> list[tuple[str, str]]:
    if report.get("config", {}).get("retrieval_only"):
        return [c for c in _CHARTS if c[0] == "retrieval"]
    return _CHARTS


def _shorten(text: str, n: int = 300) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


# --------------------------------------------------------------------------- compare


def compare(
    a_records: Sequence[Record],
    b_records: Sequence[Record],
    *,
    seed: int = 0,
    resamples: int = 1000,
) -> dict[str, Any]:
    """Paired deltas B − A over the common item ids, with paired bootstrap 95% intervals,
    and the items that flipped."""
    a_by = {r["id"]: r for r in a_records}
    b_by = {r["id"]: r for r in b_records}
    common = sorted(set(a_by) & set(b_by), key=lambda i: (a_by[i].get("pos", 0), i))
    out: dict[str, Any] = {
        "n_common": len(common),
        "only_a": len(set(a_by) - set(b_by)),
        "only_b": len(set(b_by) - set(a_by)),
        "metrics": {},
    }
    A = [a_by[i] for i in common]
    B = [b_by[i] for i in common]
    draws = _draws(len(common), resamples, seed, "compare") if common and resamples else None
    groups = _groups(A)
    groups.update({g: k for g, k in _groups(B).items() if g not in groups})
    for g, keys in groups.items():
        for k in keys:
            va, vb = _values(A, g, k), _values(B, g, k)
            ma, mb = metrics.mean(va), metrics.mean(vb)
            row: dict[str, Any] = {
                "a": _r(ma),
                "b": _r(mb),
                "delta": _r(mb - ma) if ma is not None and mb is not None else None,
                "n": sum(1 for x, y in zip(va, vb, strict=True) if x is not None and y is not None),
                "interval": None,
            }
            if draws is not None and row["delta"] is not None:
                d = _ratio_means(vb, draws) - _ratio_means(va, draws)
                row["interval"] = _interval(d)
            out["metrics"][f"{g}.{k}"] = row
    la = [float(r["latency_ms"]) for r in A if r.get("latency_ms") is not None]
    lb = [float(r["latency_ms"]) for r in B if r.get("latency_ms") is not None]
    for q in (50, 95):
        pa, pb = metrics.percentile(la, q), metrics.percentile(lb, q)
        out["metrics"][f"latency_ms.p{q}"] = {
            "a": _r(pa, 2),
            "b": _r(pb, 2),
            "delta": _r(pb - pa, 2) if pa is not None and pb is not None else None,
            "n": min(len(la), len(lb)),
            "interval": None,
        }

    def outcome(r: Record) -> float | None:
        return (r.get("scores", {}).get("answer") or {}).get("crag_score")

    def hit10(r: Record) -> float | None:
        return (r.get("scores", {}).get("retrieval") or {}).get("hit@10")

    flips: dict[str, list[dict[str, Any]]] = {
        "correct_to_wrong": [],
        "wrong_to_correct": [],
        "hit@10_lost": [],
        "hit@10_gained": [],
    }
    transitions: Counter[str] = Counter()
    names = {1.0: "correct", 0.0: "abstained", -1.0: "wrong"}
    for ra, rb in zip(A, B, strict=True):
        oa, ob = outcome(ra), outcome(rb)
        brief = {"id": ra["id"], "type": ra.get("type"), "question": ra.get("question")}
        if oa is not None and ob is not None and oa != ob:
            transitions[f"{names.get(oa, oa)}→{names.get(ob, ob)}"] += 1
            if oa == 1.0 and ob == -1.0:
                flips["correct_to_wrong"].append(brief)
            elif oa == -1.0 and ob == 1.0:
                flips["wrong_to_correct"].append(brief)
        ha, hb = hit10(ra), hit10(rb)
        if ha is not None and hb is not None and ha != hb:
            flips["hit@10_lost" if ha > hb else "hit@10_gained"].append(brief)
    out["flips"] = flips
    out["transitions"] = dict(sorted(transitions.items()))
    return out
