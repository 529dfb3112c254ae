"""`rag eval GOLD [flags]` and `rag eval compare RUN_A RUN_B`: parsing and printing only.

`eval` is a command group whose default command is `run`: `rag eval GOLD ...` means
`rag eval run GOLD ...` whenever the first argument is not a sub-command name. Bad flags
become one-line `rag.errors.UsageError`s (exit 2), like every other core error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rag.errors import UsageError

DEFAULT_COMMAND = "run"


class DefaultGroup(TyperGroup):
    """A group that runs `run` when the first argument is not one of its commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _click_usage_errors() as e:
            raise UsageError(_usage_message(e)) from None


def _click_usage_errors() -> tuple[type[BaseException], ...]:
    """Usage errors of the click that typer runs on (typer may vendor its own)."""
    import click

    out: list[type[BaseException]] = [click.UsageError, click.BadParameter]
    try:
        from typer._click import exceptions as tclick  # newer typer vendors click

        out += [tclick.UsageError, tclick.BadParameter]
    except ImportError:  # pragma: no cover - older typer uses click itself
        pass
    return tuple(out)


def _usage_message(e: Any) -> str:
    msg = " ".join(str(e.format_message() if hasattr(e, "format_message") else e).split())
    return f"rag eval: {msg.rstrip('.')}; see `rag eval --help`"


eval_app = typer.Typer(
    cls=DefaultGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Score the pipeline on a gold set: `rag eval GOLD [flags]`, or compare two runs "
    "with `rag eval compare RUN_A RUN_B`.",
)


def _stdout_console() -> Any:
    """The console for results: the terminal's width; into a file or pipe, $COLUMNS when
    set, else 200 (wide enough for `--wide`)."""
    import os

    from rich.console import Console

    c = Console(highlight=False)
    if c.is_terminal:
        return c
    columns = os.environ.get("COLUMNS", "")
    return Console(highlight=False, width=int(columns) if columns.isdigit() else 200)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@eval_app.command("run")
def run(
    gold: Annotated[Path, typer.Argument(help="Gold questions (JSONL) or a MultiHop-RAG file.")],
    fmt: Annotated[
        str, typer.Option("--format", help="Gold file format: jsonl or multihop-rag.")
    ] = "jsonl",
    index: Annotated[
        Path | None, typer.Option("--index", help="Index folder (default: index.dir setting).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="`offline` or a litellm model name.")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", "-k", help="Passages shown to the answerer.")
    ] = None,
    retrieval_only: Annotated[
        bool, typer.Option("--retrieval-only", help="Score retrieval only (batched; no answers).")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="First N questions only.")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Parallel LLM and judge calls.")
    ] = 4,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder (default: runs/<gold-stem>-<timestamp>)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the interrupted run in --out.")
    ] = False,
    judge: Annotated[
        str | None, typer.Option("--judge", help="litellm model that grades answers and citations.")
    ] = None,
    judge_api_base: Annotated[
        str | None,
        typer.Option(
            "--judge-api-base",
            help="API base of the judge (default: llm.api_base "
            "when the judge uses the answerer's provider).",
        ),
    ] = None,
    judge_cache: Annotated[
        Path | None,
        typer.Option("--judge-cache", help="SQLite cache of verdicts (default: next to --out)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every metric of every type, with intervals.")
    ] = False,
) -> None:
    """Run the pipeline over GOLD and write report.json, report.html and items.jsonl."""
    from rag.eval.report_text import render_terminal
    from rag.eval.runner import EvalOptions, Hooks, run_eval

    _check_before_running(index, model, top_k, retrieval_only, judge, judge_api_base)

    opts = EvalOptions(
        gold=gold,
        fmt=fmt,
        index=index,
        model=model,
        top_k=top_k,
        retrieval_only=retrieval_only,
        limit=limit,
        concurrency=concurrency,
        out=out,
        resume=resume,
        judge=judge,
        judge_api_base=judge_api_base,
        judge_cache=judge_cache,
    )
    err = _stderr_console()
    bar: dict[str, Any] = {}
    state = {"out": None}

    def start(total: int, done: int) -> None:
        if done:
            err.print(f"resuming: {done} of {total} questions already done", highlight=False)
        if quiet:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        p = Progress(
            TextColumn("eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        p.start()
        bar["p"], bar["t"] = p, p.add_task("eval", total=total, completed=done)

    def item(rec: dict[str, Any]) -> None:
        if "p" in bar:
            bar["p"].advance(bar["t"])

    def notice(msg: str) -> None:
        err.print(msg, highlight=False, markup=False)

    from rag.eval.runner import default_out

    state["out"] = out or default_out(gold)
    opts.out = state["out"]
    try:
        result = run_eval(opts, Hooks(on_start=start, on_item=item, on_notice=notice))
    except KeyboardInterrupt:
        if "p" in bar:
            bar["p"].stop()
        again = " ".join(_argv_for_resume(state["out"]))
        sys.stderr.write(
            f"interrupted: finished questions are kept in {state['out']}/items.jsonl; "
            f"continue with: {again}\n"
        )
        sys.exit(130)
    finally:
        if "p" in bar:
            bar["p"].stop()
    render_terminal(result.report, _stdout_console(), wide=wide)
    sys.stdout.write(f"report: {result.out}/report.json  {result.out}/report.html\n")


def _check_before_running(
    index: Path | None,
    model: str | None,
    top_k: int | None,
    retrieval_only: bool,
    judge: str | None,
    judge_api_base: str | None,
) -> None:
    """What fails every question fails once, before the first: top-k out of range, an
    unknown provider, a missing API key, no local server (no request is sent)."""
    from rag.config import load_settings
    from rag.eval.judge import judge_settings
    from rag.llm import preflight

    s = load_settings(index={"dir": index}, llm={"model": model})
    if top_k is not None:
        s.limits.check_top_k(top_k)
    if retrieval_only:
        return
    if not s.llm.fallback_offline:
        preflight(s.llm)
    if judge:
        preflight(judge_settings(s.llm, judge, judge_api_base))


def _argv_for_resume(out: Path) -> list[str]:
    args = [a for a in sys.argv[1:]] if sys.argv and sys.argv[0].endswith("rag") else []
    if not args:
        return ["rag eval ... --resume --out", str(out)]
    cleaned: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        if a.startswith("--out=") or a == "--resume":
            continue
        cleaned.append(a)
    return ["rag", *cleaned, "--resume", "--out", str(out)]


@eval_app.command("compare")
def compare_runs(
    run_a: Annotated[Path, typer.Argument(help="Run folder A (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="Run folder B (the change).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """The settings that differ, then paired deltas B − A with bootstrap 95% intervals
    and the questions that flipped."""
    from rag.eval.report import compare, load_run
    from rag.eval.report_text import config_changes, render_compare, run_config

    report_a, a = load_run(run_a)
    report_b, b = load_run(run_b)
    changes = config_changes(run_config(run_a, report_a), run_config(run_b, report_b))
    result = compare(a, b)
    if as_json:
        result = {"config_diff": changes, **result}
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
        return
    render_compare(result, str(run_a), str(run_b), _stdout_console(), changes)
