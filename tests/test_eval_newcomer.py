"""`rag eval` as a first-time user reads it (issue 13): tables readable at 80 columns
(`--wide` for every column), `compare` names the settings that differ before anything
else, and report.html has a table of contents that reaches every section."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rag.eval.report import ANSWER_KEYS, GROUPS

from .conftest import GOLD
from .test_cli import run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, bundled_index: Path) -> dict[str, Path]:
    """Two runs over the first 12 bundled questions: A as configured, B with dense
    retrieval and top-k 3."""
    from rag.cli import main

    base = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("RAG_INDEX__DIR", str(bundled_index))
        for name, extra in (("a", []), ("b", ["--top-k", "3"])):
            if name == "b":
                mp.setenv("RAG_RETRIEVAL__MODE", "dense")
            args = ["eval", str(GOLD), "--limit", "12", "--out", str(base / name), "-q", *extra]
            code: object = 0
            try:
                main(args)
            except SystemExit as e:
                code = e.code
            assert not code, code
    finally:
        mp.undo()
    return {"a": base / "a", "b": base / "b"}


def test_the_eval_table_fits_80_columns(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(
        capsys, "eval", str(GOLD), "--index", str(bundled_index), "--out", str(tmp_path / "r"), "-q"
    )
    assert code == 0
    lines = out.splitlines()
    too_long = [x for x in lines if len(x) > 80 and not x.startswith("report: ")]  # paths
    assert not too_long, "\n".join(too_long)
    assert not [x for x in lines if "…" in x], out  # no header or cell cut short
    # overall: one row per metric that applies, each with its interval and n
    for key in ("hit@10", "mrr@10", "f1", "crag_score", "precision"):
        row = next(x for x in lines if re.match(rf"^\S*\s+{re.escape(key)}\s", x))
        assert re.search(r"\d\.\d{3}\s+\[\d\.\d\d, \d\.\d\d\]\s+\d+$", row), row
    # by type: every type on one line
    header = next(x for x in lines if x.startswith("type "))
    assert header.split()[:4] == ["type", "n", "hit@10", "MRR@10"]
    types = {json.loads(x)["type"] for x in GOLD.read_text().splitlines()}
    for t in types:
        assert sum(1 for x in lines if x.split()[:1] == [t]) == 1, t


@pytest.mark.parametrize("columns", [None, "80", "100"])
def test_eval_wide_shows_every_metric_whole(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    columns: str | None,
) -> None:
    """`--wide` at any width: every metric with its interval, no cell or header cut (a
    group too wide for the terminal goes on in a second table, type and n repeated)."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    code, out, _ = run(
        capsys, "eval", str(GOLD), "--index", str(bundled_index), "--out", str(tmp_path / "r"),
        "-q", "--limit", "12", "--wide",
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    headers = " ".join(x for x in lines if x.startswith("type "))
    for key in (*GROUPS["retrieval"], *ANSWER_KEYS, *GROUPS["citations"]):
        assert f" {key}" in headers, key  # the whole name, e.g. abstain_precision
    assert re.search(r"\d\.\d{3} \[\d\.\d\d, \d\.\d\d\]", out)  # intervals per cell
    assert not [x for x in lines if "…" in x], out
    if columns:
        too_long = [x for x in lines if len(x) > int(columns) and not x.startswith("report: ")]
        assert not too_long, "\n".join(too_long)
        # every value of a row is whole: "0.917 [0.75, 1.00]" or "—"
        cells = [c for x in lines if x.startswith("all ") for c in re.split(r"\s{2,}", x)[2:]]
        assert cells and all(
            re.fullmatch(r"-?\d\.\d{3}( \[-?\d\.\d\d, -?\d\.\d\d\])?|—", c) for c in cells
        ), cells


def test_compare_names_the_settings_that_differ_first(
    capsys: pytest.CaptureFixture[str], runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "eval", "compare", str(runs["a"]), str(runs["b"]))
    assert code == 0
    lines = out.splitlines()
    assert lines[:6] == [
        f"A = {runs['a']}",
        f"B = {runs['b']}",
        "settings that differ (A → B):",
        '  retrieval.mode: "hybrid" → "dense"',
        "  retrieval.top_k: 5 → 3",
        "  top_k: 5 → 3",
    ]
    assert lines[6] == "12 common items (only in A: 0, only in B: 0)"
    assert not [x for x in lines if len(x) > 80]

    code, out, _ = run(capsys, "eval", "compare", str(runs["a"]), str(runs["b"]), "--json")
    d = json.loads(out)
    assert d["config_diff"][0] == {"key": "retrieval.mode", "a": "hybrid", "b": "dense"}
    assert [c["key"] for c in d["config_diff"]] == ["retrieval.mode", "retrieval.top_k", "top_k"]

    code, out, _ = run(capsys, "eval", "compare", str(runs["a"]), str(runs["a"]))
    assert out.splitlines()[2] == "settings: the same in both runs"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.toc: list[str] = []
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "nav":
            self._in_nav = True
        if tag == "a" and self._in_nav and a.get("href", "").startswith("#"):
            self.toc.append(str(a["href"])[1:])

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False


def test_report_html_has_a_table_of_contents(runs: dict[str, Path]) -> None:
    page = (runs["a"] / "report.html").read_text(encoding="utf-8")
    links = _Links()
    links.feed(page)
    assert links.toc[:3] == ["g-retrieval", "g-answer", "g-citations"]
    assert "worst" in links.toc and "config" in links.toc
    assert set(links.toc) <= set(links.ids)  # every entry reaches its section
    assert page.index('<nav class="toc"') < page.index('id="g-retrieval"')


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_report_toc_reaches_the_worst_items_in_one_click(runs: dict[str, Path]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from .test_chat_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 800})
            blocked: list[str] = []
            ctx.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith("file:")
                    else (blocked.append(r.request.url), r.abort())
                ),
            )
            page = ctx.new_page()
            page.goto((runs["a"] / "report.html").as_uri())
            worst = page.locator("#worst")
            assert worst.bounding_box()["y"] > 800  # far down the page
            page.locator("nav.toc a[href='#worst']").click()
            page.wait_for_function(
                "() => Math.abs(document.querySelector('#worst').getBoundingClientRect().top"
                " - 44) < 20"
            )
            toc = page.locator("nav.toc").bounding_box()
            assert toc is not None and toc["y"] == 0  # the contents stay at hand (sticky)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "eval_report_worst.png"))
            assert blocked == []  # a self-contained page
        finally:
            browser.close()
