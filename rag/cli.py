"""The `rag` command: argument parsing and printing only; the work is in `rag.api`.

Core errors (`RagError`) become one line on stderr and a non-zero exit code; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.errors import RagError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Question answering over news articles, with citations to the passages used.",
)

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index folder (default: index.dir setting).")
]


def _err(msg: str) -> None:
    sys.stderr.write(msg.rstrip() + "\n")
    sys.stderr.flush()


def _settings(index: Path | None = None, **groups: dict[str, Any]) -> Any:
    from rag.config import load_settings

    if index is not None:
        groups.setdefault("index", {})["dir"] = index
    return load_settings(**groups)


# --------------------------------------------------------------------------- ingest


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders (.md .txt .html .pdf .json .jsonl) or http(s) URLs of pages, "
            "RSS/Atom feeds or sitemaps; default: what the index was built from, or the "
            "bundled articles (index.corpus) for a new one."
        ),
    ] = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option(help="Start from an empty index.")] = False,
    prune: Annotated[bool, typer.Option(help="Remove documents whose files are gone.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="List every skipped file, not only new skips."),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Read, chunk and embed on Ray Data: a local Ray, or the cluster at ADDRESS "
            '(auto, ray://host:10001); needs pip install "rag[ray]".',
        ),
    ] = None,
) -> None:
    """Read articles, chunk and embed what changed, and update the index."""
    from rag.api import IngestProgress
    from rag.api import ingest as run

    s = _settings(index)
    bar: dict[str, Any] = {}

    def start(total: int) -> None:
        if quiet or total < 8:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        p = Progress(
            TextColumn("embedding"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} chunks"),
            TimeRemainingColumn(),
            transient=True,
            console=_stderr_console(),
        )
        p.start()
        bar["p"], bar["t"] = p, p.add_task("embed", total=total)

    def advance(n: int) -> None:
        if "p" in bar:
            bar["p"].advance(bar["t"], n)

    try:
        report = run(
            paths or None,
            s,
            rebuild=rebuild,
            prune=prune,
            progress=IngestProgress(on_start=start, on_advance=advance, on_notice=_err),
            ray=ray,
        )
    finally:
        if "p" in bar:
            bar["p"].stop()
    _print_skips(report, verbose)
    for x in report.warnings:
        _err(f"warning: {x.where}: {x.reason}")
    for note in report.copies:
        _err(note)
    if report.gone:
        some = ", ".join(report.gone[:3]) + (" …" if len(report.gone) > 3 else "")
        _err(
            f"note: {len(report.gone)} stored document(s) whose file is gone ({some}); "
            "`rag ingest --prune` removes them"
        )
    print(report.summary())


def _print_skips(report: Any, verbose: bool) -> None:
    """New skips in full; the ones the last ingest already reported, as a count."""
    shown = report.skipped if verbose else report.new_skipped
    for x in shown:
        _err(f"skipped {x.where}: {x.reason}")
    again = len(report.skipped) - len(shown)
    if again > 0:
        _err(
            f"skipped {again} file{'' if again == 1 else 's'} as last time, for the same "
            "reasons (`rag ingest -v` lists them)"
        )


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


# --------------------------------------------------------------------------- ask


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    index: IndexOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="`offline` or a litellm model name.")
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", help="Passages to show.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    verify_model: Annotated[
        str | None,
        typer.Option("--verify-model", help="A litellm model that checks support (YES/NO)."),
    ] = None,
    unsupported: Annotated[
        str | None,
        typer.Option(
            "--unsupported", help="`mark` (default) or `drop` sentences no passage supports."
        ),
    ] = None,
) -> None:
    """Answer a question from the indexed articles, citing passages as [n].

    The answer streams as it is written (on a terminal); then every sentence is checked
    against the passages and the checked, cited answer replaces it. A sentence that no
    passage supports is marked [unsupported].
    """
    from rag.api import Final, Pipeline, Retrieved

    s = _settings(
        index,
        llm={"model": model},
        check={"verify_model": verify_model, "unsupported": unsupported},
    )
    if top_k is not None:
        s.limits.check_top_k(top_k)
    p = Pipeline(s)
    if index is None:
        p.ensure_index(notice=_err)
    out = sys.stdout
    answer = None
    remote = s.llm.model != "offline"
    live = _Draft() if (not as_json and out.isatty()) else None
    try:
        for ev in p.ask_stream(question, top_k=top_k):
            if isinstance(ev, Retrieved):
                if remote and not as_json:  # a model takes seconds: say what it is reading
                    _err(f"Reading {len(ev.hits)} passages for {s.llm.model}:")
                    for i, h in enumerate(ev.hits, 1):
                        _err(f"  [{i}] {_title_line(h.doc)}")
                continue
            if isinstance(ev, Final):
                answer = ev.answer
            elif live is not None:
                live.add(ev.text)
    finally:
        if live is not None:
            live.stop()  # the draft disappears: the checked answer replaces it
    assert answer is not None
    if as_json:
        out.write(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    out.write(_marked(answer) + "\n")
    if answer.citations:
        out.write("\nSources:\n")
        for c in answer.citations:
            out.write(_source_line(c) + "\n")
    if any(x.claim and not x.supported for x in answer.sentences):
        out.write(f"\n{UNSUPPORTED}: no passage shown supports that sentence.\n")


UNSUPPORTED = "[unsupported]"


class _Draft:
    """The answer as it streams, shown on the terminal until the checked one replaces it."""

    def __init__(self) -> None:
        from rich.live import Live
        from rich.text import Text

        self.text = Text()
        self.live = Live(self.text, auto_refresh=False, transient=True, vertical_overflow="crop")
        self.live.start()

    def add(self, piece: str) -> None:
        self.text.append(piece)
        self.live.refresh()

    def stop(self) -> None:
        self.live.stop()


def _marked(answer: Any) -> str:
    """The answer text with each unsupported sentence followed by [unsupported]."""
    text, out, pos = answer.text, [], 0
    for x in answer.sentences:
        if x.claim and not x.supported and x.end > x.start:
            out += [text[pos : x.end], " ", UNSUPPORTED]
            pos = x.end
    out.append(text[pos:])
    return "".join(out)


def _title_line(d: Any) -> str:
    meta = ", ".join(x for x in (d.source, (d.published_at or "")[:10]) if x)
    return d.title + (f" — {meta}" if meta else "")


def also_reported(copies: list[dict[str, Any]]) -> str:
    """'also reported by Metro Daily (2024-05-02) and Coast Herald' for a wire copy's
    other publishers (ingest keeps them; only one copy is searched)."""
    names = []
    for x in copies:
        name = x.get("source") or x.get("url") or x.get("id") or "?"
        date = (x.get("published_at") or "")[:10]
        names.append(f"{name} ({date})" if date else str(name))
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"also reported by {listed}"


def _source_line(c: Any) -> str:
    d, ch = c.hit.doc, c.hit.chunk
    page = f", {c.page}" if c.page else ""
    head = f"[{c.n}] {_title_line(d)}{page}  ({ch.doc_id})"
    if c.quotes:
        doc_text = ch.text
        quote = " … ".join(doc_text[s - ch.start : e - ch.start] for s, e in c.quotes)
    else:
        quote = ch.text
    from rag.text import quoted

    quote = quoted(textwrap.shorten(" ".join(quote.split()), width=300, placeholder=" …"))
    out = head + "\n" + textwrap.indent(textwrap.fill(quote, width=96), "    ")
    also = also_reported(d.extra.get("also_published_by", []))
    return out + ("\n    " + also if also else "")


# --------------------------------------------------------------------------- users

users_app = typer.Typer(
    no_args_is_help=True, help="Users of the browser chat's password login (chat.users_file)."
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The name to sign in with.")],
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Users file (default: chat.users_file setting)."),
    ] = None,
) -> None:
    """Add a chat user, or set a new password (asked twice, stored as a salted hash)."""
    from rag.chat.users import add_user, check_name
    from rag.errors import UsageError

    path = file or _settings().chat.users_file
    if path is None:
        raise UsageError(
            "no users file: pass --file PATH or set chat.users_file (RAG_CHAT__USERS_FILE)"
        )
    check_name(name)
    new = add_user(path, name, _new_password())
    print(f"{'added' if new else 'updated'} user {name} in {path}")
    if file is not None and _settings().chat.users_file != file:
        print(f"the chat asks for a password with RAG_CHAT__USERS_FILE={file}")


def _new_password() -> str:
    """The password, typed twice at a terminal, or two lines piped on stdin."""
    from rag.errors import UsageError

    if not sys.stdin.isatty():
        first, second = sys.stdin.readline(), sys.stdin.readline()
        if not first:
            raise UsageError(
                "no password: stdin is empty; type it at a terminal, or pipe it twice "
                "(two lines); nothing was changed"
            )
        if not second:
            raise UsageError(
                "the password must be given twice (two lines on stdin); nothing was changed"
            )
        if first.rstrip("\r\n") != second.rstrip("\r\n"):
            raise UsageError("the two passwords do not match; nothing was changed")
        return first.rstrip("\r\n")
    try:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    except _click_exceptions()[0]:
        raise UsageError("no password entered; nothing was changed") from None


# --------------------------------------------------------------------------- docs


@app.command()
def docs(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    flags: Annotated[
        bool, typer.Option("--flags", help="Show the sentences flagged as instructions to AI.")
    ] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (id, source), nothing cut.")
    ] = False,
) -> None:
    """List the documents in the index, a line each (--wide: every column), with how many
    sentences look like planted orders."""
    from rag.store import open_index

    s = _settings(index)
    idx = open_index(s.index.dir, verify_up_to_mb=s.index.verify_on_open_mb)
    rows = idx.doc_rows()
    if flags:
        for r in rows:
            text = idx.doc_text(r["id"]) or ""
            r["flags"] = [
                {"start": f.start, "end": f.end, "score": f.score, "reason": f.reason,
                 "text": text[f.start : f.end]}
                for f in idx.flags_of(r["id"])
            ]  # fmt: skip
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if wide:
        _docs_table(rows)
    else:
        for line in _docs_lines(rows, shutil.get_terminal_size().columns):
            print(line)
    n_flagged = sum(r["flagged"] for r in rows)
    print(
        f"{len(rows)} documents, {idx.n_chunks} chunks in {s.index.dir} ({idx.generation}); "
        f"{n_flagged} sentence{'' if n_flagged == 1 else 's'} flagged as instructions to AI"
        + ("" if flags or not n_flagged else " (see them with --flags)")
    )
    for r in rows if flags else []:
        for f in r["flags"]:
            print(f"\n{r['id']} [{f['start']}:{f['end']}] score {f['score']:.2f}: {f['reason']}")
            print(f"    {' '.join(f['text'].split())[:300]}")


def _docs_lines(rows: list[dict[str, Any]], width: int) -> list[str]:
    """One line per document, cut to the terminal's width: date, chunks, (flagged,)
    source, title. The flagged column shows only when some document has flags."""
    from rich.cells import cell_len, set_cell_size

    def cut(text: str, n: int) -> str:
        text = " ".join(text.split())
        return text if cell_len(text) <= n else set_cell_size(text, max(n - 1, 0)) + "…"

    width = max(width, 40)
    flagged = any(r.get("flagged") for r in rows)
    src_w = min(14, max([6] + [cell_len(r["source"] or "") for r in rows]))
    title_w = width - (10 + 2 + 6 + 2 + (7 if flagged else 0) + src_w + 2)
    head = f"{'published':<10}  {'chunks':>6}  " + ("flags  " if flagged else "")
    out = [f"{head}{'source':<{src_w}}  title"]
    for r in rows:
        source = set_cell_size(cut(r["source"] or "", src_w), src_w)
        date = (r["published_at"] or "")[:10] or "—"
        line = f"{date:<10}  {r['chunks']:>6}  "
        if flagged:
            line += f"{r.get('flagged') or '':>5}  "
        out.append(f"{line}{source}  {cut(r['title'], title_w)}")
    return out


def _docs_table(rows: list[dict[str, Any]]) -> None:
    """Every column, wrapped at the terminal's width (200 columns into a file or pipe)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200)
    t = Table(box=None, pad_edge=False)
    for col in ("id", "published", "chunks", "flagged", "source", "title"):
        right = col in ("chunks", "flagged")
        t.add_column(col, justify="right" if right else "left", no_wrap=col == "id")
    for r in rows:
        cells = (r["id"], (r["published_at"] or "")[:10], str(r["chunks"]))
        cells += (str(r.get("flagged") or ""), r["source"] or "", r["title"])
        t.add_row(*(Text(c) for c in cells))  # text, never rich markup
    console.print(t)


from rag.eval.cli import eval_app  # noqa: E402  (the `rag eval` group; imports stay lazy)

app.add_typer(eval_app, name="eval")
from rag.serve import cli as serve_cli  # noqa: E402  (`rag serve`, `rag keys`; no FastAPI import)

app.command("serve")(serve_cli.serve)
app.add_typer(serve_cli.keys_app, name="keys")
from rag.index_cli import index_app  # noqa: E402  (`rag index verify/repair`)

app.add_typer(index_app, name="index")


# --------------------------------------------------------------------------- entry point


def _click_exceptions() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(Abort, ClickException) classes of click and of the copy typer may vendor."""
    import click

    aborts: list[type[BaseException]] = [click.exceptions.Abort]
    errors: list[type[BaseException]] = [click.ClickException]
    try:
        from typer.exceptions import Abort as typer_abort  # what typer.prompt raises at EOF

        aborts.append(typer_abort)
    except ImportError:  # pragma: no cover - older typer raises click's
        pass
    try:
        from typer._click import exceptions as vendored  # typer >= 0.17 ships its own click
    except ImportError:  # pragma: no cover - older typer runs on click itself
        vendored = None
    if vendored is not None:
        errors.append(vendored.ClickException)
        if hasattr(vendored, "Abort"):
            aborts.append(vendored.Abort)
    return tuple(aborts), tuple(errors)


def main(argv: list[str] | None = None) -> None:
    from rag.ingest.ray_flag import ray_address_given
    from rag.interrupts import Interrupted, Stop, signal_name, terminate_as_interrupt

    aborts, click_errors = _click_exceptions()
    try:
        with terminate_as_interrupt():
            rc = app(args=ray_address_given(argv), standalone_mode=False)
        if isinstance(rc, int) and rc:  # a command's typer.Exit(code), e.g. `rag index verify`
            sys.exit(rc)
    except Interrupted as e:  # says itself what was kept and how to go on
        _err(str(e))
        sys.exit(e.exit_code)
    except Stop as e:  # SIGTERM elsewhere than in an ingest
        _err(signal_name(e.signum))
        sys.exit(Interrupted("", e.signum).exit_code)
    except RagError as e:
        _err(f"error: {e}")
        sys.exit(e.exit_code)
    except aborts:
        _err("aborted")
        sys.exit(130)
    except click_errors as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `rag` alone: show the help
            e.show()  # type: ignore[attr-defined]
            sys.exit(2)
        msg = " ".join(str(e.format_message()).split()).rstrip(".")  # type: ignore[attr-defined]
        ctx = getattr(e, "ctx", None)
        where = ctx.command_path if ctx is not None else "rag"
        _err(f"error: {msg}; see `{where} --help`")
        sys.exit(int(getattr(e, "exit_code", 2)))
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
