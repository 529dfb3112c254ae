"""Start `rag serve`: decide the address, bind it, run uvicorn with the app.

Without API keys the server listens on 127.0.0.1 whatever `--host` says, and says so;
with keys it listens where it is told. The socket is bound here (port 0 picks a free
one), so the first line on stderr names the real address:

    rag serve: http://127.0.0.1:8080/v1 (OpenAI-compatible, model "rag"); docs at /docs

What it does not do: define routes (`app`) or parse the command line (`cli`).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from rag.chat.users import is_loopback
from rag.config import Settings
from rag.errors import ConfigError

from .keys import load_keys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _say(msg: str) -> None:
    sys.stderr.write(msg.rstrip() + "\n")
    sys.stderr.flush()


def choose_host(settings: Settings) -> tuple[str, str]:
    """(host to bind, the line that says why)."""
    s = settings.serve
    keys = load_keys(s.keys_file)
    if keys:
        return s.host, (
            f"{len(keys)} API key(s) in {s.keys_file}: every /v1 request needs "
            "Authorization: Bearer KEY"
        )
    if not is_loopback(s.host):
        return "127.0.0.1", (
            f"no API keys in {s.keys_file}: listening on 127.0.0.1 only, not {s.host}; "
            "`rag keys add NAME` makes a key, then restart to serve other hosts"
        )
    return s.host, (
        f"no API keys in {s.keys_file}: no key is asked for, and only this machine can "
        "connect; `rag keys add NAME` makes one"
    )


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as e:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {e.strerror or e}; pick another --port "
            "(0 takes a free one) or --host"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def log_config(level: str) -> dict[str, Any]:
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "rag": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


def run(settings: Settings, *, log_level: str = "info") -> None:
    import uvicorn

    from rag.llm import redact_logs

    from .app import create_app

    redact_logs()  # keys shaped like sk-… never reach a log line (ours, uvicorn's, litellm's)
    host, why = choose_host(settings)
    sock = bind(host, settings.serve.port)
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    _say(why)
    _say(
        f'rag serve: http://{shown}:{port}/v1 (OpenAI-compatible, model "rag"); '
        f"docs at http://{shown}:{port}/docs; index {settings.index.dir}"
    )
    config = uvicorn.Config(
        create_app(settings),
        log_config=log_config(log_level),
        log_level=log_level,
        access_log=False,  # ours (rag.serve.access) names the key, never the key itself
        # longer than clients keep idle connections (httpx: 5 s, proxies: 60 s), so a client
        # never sends on a connection the server is closing that moment (a ReadError)
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )
    logging.getLogger("rag.serve").debug("listening on %s:%d", host, port)
    uvicorn.Server(config).run(sockets=[sock])
