"""What `rag eval` and `rag eval compare` print in the terminal.

- `render_terminal`: by default readable at 80 columns: one "overall" table (a row per
  metric: value, 95% interval, n) and one "by type" table with a few key metrics as
  columns (values only). `wide=True` (`--wide`) prints every metric of every type with
  its interval, a table per group; a group wider than the terminal goes on in another
  table ("… (continued)", type and n repeated), so no cell is ever cut.
- `render_compare`: the settings that differ between the two runs first (`config_changes`),
  then the paired deltas and the questions that flipped.

What it does not do: compute metrics (see `rag.eval.report`) or write files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.eval.report import ANSWER_KEYS, GROUPS, JUDGE_KEYS, fmt

# the by-type table's columns, the first of each group present in the report:
# (group, metric, header)
KEY_COLUMNS: tuple[tuple[tuple[str, str, str], ...], ...] = (
    (("retrieval", "hit@10", "hit@10"),),
    (("retrieval", "mrr@10", "MRR@10"),),
    (("answer", "strict", "right"), ("answer", "containment", "contains")),
    (("answer", "crag_score", "CRAG"),),
    (("answer", "f1", "F1"),),
    (("citations", "precision", "cite P"),),
    (("support", "supported", "support"),),
    (("judge", "correct", "judge"),),
)
RETRIEVAL_COLUMNS = (
    ("retrieval", "hit@4", "hit@4"),
    ("retrieval", "hit@10", "hit@10"),
    ("retrieval", "mrr@10", "MRR@10"),
    ("retrieval", "map@10", "MAP@10"),
    ("retrieval", "recall@10", "R@10"),
    ("retrieval", "ndcg@10", "nDCG@10"),
)
# what `compare` leaves out of the settings diff: not a setting
_NOT_SETTINGS = ("started",)


def _groups(report: dict[str, Any]) -> list[str]:
    if report.get("config", {}).get("retrieval_only"):
        return ["retrieval"]
    return [g for g in (*GROUPS, "judge") if g in report]


def _keys(group: str) -> tuple[str, ...]:
    return GROUPS.get(group, JUDGE_KEYS)


def _has(report: dict[str, Any], group: str, key: str) -> bool:
    return (report.get(group) or {}).get(key) is not None


def headline(report: dict[str, Any]) -> str:
    cfg = report.get("config", {})
    return (
        f"{report['n']} questions · "
        + ("retrieval only" if cfg.get("retrieval_only") else f"model {report['model']}")
        + f" · index {report['index']} · top-k {cfg.get('top_k')}"
        + (f" · judge {cfg.get('judge')}" if cfg.get("judge") else "")
    )


def render_terminal(report: dict[str, Any], console: Any, *, wide: bool = False) -> None:
    """The report's tables (see the module docstring), then latency, usage, baselines."""
    console.print(headline(report), markup=False)
    if wide:
        _wide_tables(report, console)
    else:
        _overall(report, console)
        _by_type(report, console)
    _footer(report, console, wide)


def _table() -> Any:
    from rich.table import Table

    return Table(box=None, pad_edge=False)


def _title(console: Any, text: str) -> None:
    """A table's title on its own line (a rich title would wrap to the table's width)."""
    console.print(text, style="bold", markup=False, highlight=False)


def _overall(report: dict[str, Any], console: Any) -> None:
    from rich.text import Text

    _title(console, "overall (95% bootstrap interval; n: the questions a metric applies to)")
    t = _table()
    for col, right in (("group", False), ("metric", False), ("value", True)):
        t.add_column(col, justify="right" if right else "left", no_wrap=True)
    t.add_column("interval", no_wrap=True)
    t.add_column("n", justify="right", no_wrap=True)
    for g in _groups(report):
        first = True
        for k in _keys(g):
            if not _has(report, g, k):
                continue
            ci = ((report.get("intervals") or {}).get(g) or {}).get(k)
            n = ((report.get("counts") or {}).get(g) or {}).get(k)
            interval = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
            t.add_row(Text(g if first else ""), Text(k), fmt(report[g][k]), interval, str(n or ""))
            first = False
    console.print(t)


def _type_columns(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    if report.get("config", {}).get("retrieval_only"):
        return [c for c in RETRIEVAL_COLUMNS if _has(report, c[0], c[1])]
    out = []
    for choices in KEY_COLUMNS:
        hit = next((c for c in choices if _has(report, c[0], c[1])), None)
        if hit:
            out.append(hit)
    return out


def _by_type(report: dict[str, Any], console: Any) -> None:
    from rich.text import Text

    types = sorted((report.get("per_type") or {}).items())
    if not types:
        return
    cols = _type_columns(report)
    _title(console, "by type (`--wide`: every metric, with its interval)")
    t = _table()
    t.add_column("type", no_wrap=True, overflow="ellipsis", max_width=18)
    t.add_column("n", justify="right", no_wrap=True)
    for _, _, header in cols:
        t.add_column(header, justify="right", no_wrap=True)
    for name, src in [("all", report), *types]:
        vals = [fmt((src.get(g) or {}).get(k), nd=2) for g, k, _ in cols]
        t.add_row(Text(name), str(src["n"]), *vals)
    console.print(t)


def _wide_tables(report: dict[str, Any], console: Any) -> None:
    """Every metric of every type, with its interval: a table per group."""
    rows = [("all", report), *sorted(report["per_type"].items())]
    for g in _groups(report):
        keys = _keys(g)
        if all(report[g].get(k) is None for k in keys):
            continue
        body = []
        for name, src in rows:
            vals = src.get(g) or {}
            cis = (src.get("intervals") or {}).get(g) or {}
            body.append(([name, str(src["n"])], [fmt(vals.get(k), cis.get(k)) for k in keys]))
        _split_table(console, g, ["type", "n"], list(keys), body)


def _split_table(
    console: Any,
    title: str,
    fixed: list[str],
    headers: list[str],
    rows: list[tuple[list[str], list[str]]],
) -> None:
    """A table whose cells are never cut: when it would not fit the console, its columns
    go into several tables, each with the `fixed` columns first (left-aligned, then
    right-aligned), titled "TITLE (continued)" after the first."""
    from rich.text import Text

    fixed_w = [max(len(h), *(len(r[0][i]) for r in rows)) for i, h in enumerate(fixed)]
    widths = [max(len(h), *(len(r[1][i]) for r in rows)) for i, h in enumerate(headers)]
    for part_no, part in enumerate(fit_columns(fixed_w, widths, console.width)):
        _title(console, title if part_no == 0 else f"{title} (continued)")
        t = _table()
        for i, h in enumerate(fixed):
            t.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
        for i in part:
            t.add_column(headers[i], justify="right", no_wrap=True)
        for left, cells in rows:
            t.add_row(*(Text(x) for x in left), *(Text(cells[i]) for i in part))
        console.print(t)


def fit_columns(
    fixed: Sequence[int], widths: Sequence[int], width: int, gap: int = 2
) -> list[list[int]]:
    """The columns (indices into `widths`) of each table, in order, so that every table
    (`fixed` columns first, `gap` between columns) fits `width`; a column too wide for
    any table still gets one of its own."""
    base = sum(fixed) + gap * max(0, len(fixed) - 1)
    parts: list[list[int]] = []
    used = 0
    for i, w in enumerate(widths):
        if parts and used + gap + w <= width:
            parts[-1].append(i)
            used += gap + w
        else:
            parts.append([i])
            used = base + gap + w
    return parts


def _footer(report: dict[str, Any], console: Any, wide: bool) -> None:
    cfg = report.get("config", {})
    lat = report.get("latency_ms") or {}
    if lat.get("p50") is not None:
        console.print(f"latency ms: p50 {lat['p50']:.0f} · p95 {lat['p95']:.0f}")
    u = report.get("usage") or {}
    if any(v is not None for v in u.values()):
        cost = "—" if u.get("cost_usd") is None else f"${u['cost_usd']:.4f}"
        console.print(
            f"tokens: {u.get('prompt_tokens')} prompt + {u.get('completion_tokens')} completion"
            f" · cost: {cost}"
        )
    jr = report.get("judge_run")
    if jr:
        console.print(
            f"judge {jr['model']}: {jr['calls']} calls, {jr['cached']} cached, "
            f"{jr['unparsable']} unparsable"
        )
    b = report.get("baselines") or {}
    if not b or cfg.get("retrieval_only"):
        return
    ours = report.get("answer") or {}
    keys = [k for k in ANSWER_KEYS if wide or k in ("strict", "containment", "f1", "crag_score")]
    keys = [k for k in keys if any(r.get(k) is not None for r in (ours, *b.values()))]
    body = [(["this run"], [fmt(ours.get(k)) for k in keys])]
    body += [([name], [fmt(row.get(k)) for k in keys]) for name, row in b.items()]
    _split_table(console, "baselines (same answer metrics)", ["baseline"], keys, body)


# --------------------------------------------------------------------------- compare


def run_config(run: Path, report: dict[str, Any]) -> dict[str, Any]:
    """A run's settings: from report.json, or config.json while it is unfinished."""
    if isinstance(report.get("config"), dict):
        return dict(report["config"])
    try:
        cfg = json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def config_changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """The settings that differ between two runs, nested keys dotted (`retrieval.mode`)."""
    fa, fb = _flat(a), _flat(b)
    return [
        {"key": k, "a": fa.get(k), "b": fb.get(k)}
        for k in sorted(set(fa) | set(fb))
        if k not in _NOT_SETTINGS and fa.get(k) != fb.get(k)
    ]


def _value(v: Any) -> str:
    return "(not set)" if v is None else json.dumps(v, ensure_ascii=False)


def render_compare(
    result: dict[str, Any],
    a: str,
    b: str,
    console: Any,
    changes: Sequence[dict[str, Any]] = (),
) -> None:
    from rich.text import Text

    console.print(f"A = {a}\nB = {b}", markup=False, highlight=False)
    if changes:
        console.print("settings that differ (A → B):", highlight=False)
        for c in changes:
            console.print(
                Text(f"  {c['key']}: {_value(c['a'])} → {_value(c['b'])}"), highlight=False
            )
    else:
        console.print("settings: the same in both runs", highlight=False)
    console.print(
        f"{result['n_common']} common items"
        + (f" (only in A: {result['only_a']}, only in B: {result['only_b']})"),
        highlight=False,
    )
    _title(console, "B − A (paired bootstrap 95%)")
    t = _table()
    for c in ("metric", "A", "B", "Δ B−A", "95% interval", "n"):
        t.add_column(c, justify="left" if c == "metric" else "right", no_wrap=True)
    for name, row in result["metrics"].items():
        if row["a"] is None and row["b"] is None:
            continue
        nd = 0 if name.startswith("latency") else 3
        ci = row["interval"]
        t.add_row(
            name,
            fmt(row["a"], nd=nd),
            fmt(row["b"], nd=nd),
            "—" if row["delta"] is None else f"{row['delta']:+.{nd}f}",
            "" if not ci else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]",
            str(row["n"]),
        )
    console.print(t)
    if result["transitions"]:
        console.print(
            "outcomes changed: " + ", ".join(f"{k} {v}" for k, v in result["transitions"].items())
        )
    for key, title in (
        ("correct_to_wrong", "correct → wrong"),
        ("wrong_to_correct", "wrong → correct"),
        ("hit@10_lost", "hit@10 lost"),
        ("hit@10_gained", "hit@10 gained"),
    ):
        rows = result["flips"][key]
        if not rows:
            continue
        console.print(f"{title} ({len(rows)}):", highlight=False)
        for r in rows[:30]:
            console.print(f"  {r['id']} [{r['type']}] {r['question']}", markup=False)
        if len(rows) > 30:
            console.print(f"  … and {len(rows) - 30} more")
