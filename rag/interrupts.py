"""Ctrl-C (SIGINT) and SIGTERM: stop cleanly, keep what was committed, say so.

`Interrupted` is the typed error a face turns into one line and exit status 130
(SIGINT) or 143 (SIGTERM), as shells report a process ended by those signals.

`StopSignals` is used by long work that commits in steps (ingest). While reading
inputs, a signal stops the work at once (`Stop` is raised where the program is:
nothing is stored yet). Inside a `deferred()` block the first signal only sets
`pending`, so the work can finish the step it is in, publish what it has and stop
between steps; a second signal stops it at once. Handlers are installed only in the
main thread (Python delivers signals there); elsewhere, as in the chat's worker
threads, this does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rag.errors import RagError

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Interrupted(RagError):
    """Work stopped by SIGINT or SIGTERM; the message says what was kept and what next."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = EXIT_CODES.get(signal.Signals(signum), 130)


class Stop(BaseException):
    """Raised where the program is when a signal asks it to stop now."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def signal_name(signum: int) -> str:
    return NAMES.get(signal.Signals(signum), "interrupted")


class StopSignals:
    """Context manager: SIGINT/SIGTERM raise `Stop`, or only set `pending` when deferred."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self._defer = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._defer and self.pending is None:
            self.pending = signum  # finish the step, publish, then stop
            return
        raise Stop(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals inside only set `pending` (a second one stops at once)."""
        self._defer = True
        try:
            yield
        finally:
            self._defer = False

    def check(self) -> None:
        """Raise `Stop` if a signal came while deferred (call between steps)."""
        if self.pending is not None:
            raise Stop(self.pending)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """For a whole command: SIGTERM raises `Stop` like Ctrl-C raises KeyboardInterrupt, so
    `finally` blocks run and the face can exit 143 with one line."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        raise Stop(signum)

    old = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
