"""Per-key rate limits: a token bucket per key name, refilled continuously.

A key with a limit of N requests per minute may send N at once (a burst), then one
every 60/N seconds. A refused request learns how long to wait (`Retry-After`).
In-memory and per process: one `rag serve` process enforces its own limits.

What it does not do: HTTP, or know which key is which (see `rag.serve.auth`).
"""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # name → (tokens, at)
        self._lock = threading.Lock()

    def take(self, name: str, per_minute: int, now: float | None = None) -> float:
        """Take one request from `name`'s bucket: 0.0 when allowed, else the seconds
        to wait before the next one would be."""
        now = time.monotonic() if now is None else now
        rate = per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.get(name, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The Retry-After header value: whole seconds, at least 1."""
        return str(max(1, math.ceil(wait_s)))
