"""`rag serve` and `rag keys ...`: argument parsing and printing only.

Importing this module is cheap (typer and the standard library): `rag/cli.py`
registers both commands, and `rag ask` must not pay for FastAPI. `rag serve` needs the
`serve` extra (`pip install 'rag[serve]'`); `rag keys` needs nothing more.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.errors import UsageError

keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys of `rag serve` (serve.keys_file); only their hashes are stored.",
)
KeysFileOpt = Annotated[
    Path | None,
    typer.Option("--file", help="Keys file (default: serve.keys_file setting)."),
]


def _settings(**groups: dict[str, Any]) -> Any:
    from rag.config import load_settings

    clean = {g: {k: v for k, v in d.items() if v is not None} for g, d in groups.items()}
    return load_settings(**clean)


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default 127.0.0.1; needs a key otherwise)."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080; 0: a free one).")] = None,
    index: Annotated[
        Path | None, typer.Option("--index", help="Index folder (default: index.dir setting).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Answerer behind model `rag`: `offline` or litellm's."),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error (access lines are info).")
    ] = "info",
) -> None:
    """Serve the bot over HTTP: an OpenAI-compatible API, REST, uploads (docs/serve.md)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError(
            "`rag serve` needs the serve extra: pip install 'rag[serve]' (make install-dev has it)"
        ) from None
    level = log_level.lower()
    if level not in ("debug", "info", "warning", "error"):
        raise UsageError(f"--log-level {log_level!r}: use debug, info, warning or error")
    s = _settings(index={"dir": index}, llm={"model": model}, serve={"host": host, "port": port})
    from rag.api import Pipeline
    from rag.serve.server import run

    if index is None:  # the configured index is built on first use, as `rag ask` does
        Pipeline(s).ensure_index(notice=lambda m: sys.stderr.write(m + "\n"))
    run(s, log_level=level)


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="A name for the key (who or what uses it).")],
    rate: Annotated[
        int | None,
        typer.Option(help="Requests per minute (default: serve.rate_limit_per_min)."),
    ] = None,
    file: KeysFileOpt = None,
) -> None:
    """Make a key and print it once (stdout); only its hash is stored."""
    from rag.serve.keys import add_key

    path = file or _settings().serve.keys_file
    key = add_key(path, name, rate)
    typer.echo(key)
    sys.stderr.write(
        f"added key {name!r} to {path}; it is shown only now: keep it. Clients send it as\n"
        "  Authorization: Bearer <key>   (OpenAI clients: api_key=<key>)\n"
        "A running `rag serve` takes it within a second; restart it to listen beyond "
        "127.0.0.1 (--host).\n"
    )


@keys_app.command("list")
def keys_list(file: KeysFileOpt = None) -> None:
    """The keys' names, first characters, creation dates and rate limits."""
    from rag.serve.keys import load_keys

    path = file or _settings().serve.keys_file
    keys = load_keys(path)
    if not keys:
        typer.echo(f"no keys in {path}; `rag keys add NAME` makes one")
        return
    for e in sorted(keys.values(), key=lambda e: e.name):
        rate = f"{e.rate_limit_per_min}/min" if e.rate_limit_per_min else "default rate"
        typer.echo(f"{e.name}\t{e.prefix}…\t{e.created}\t{rate}")


@keys_app.command("remove")
def keys_remove(
    name: Annotated[str, typer.Argument(help="The key's name.")], file: KeysFileOpt = None
) -> None:
    """Remove a key: requests with it are refused from the next second on."""
    from rag.serve.keys import remove_key

    path = file or _settings().serve.keys_file
    remove_key(path, name)
    typer.echo(f"removed key {name!r} from {path}")
