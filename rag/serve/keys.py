"""API keys of `rag serve`: made once, stored as hashes, checked per request.

The keys file is TOML (`serve.keys_file`, default `index/.serve/keys.toml`, written by
`rag keys add NAME`):

    [keys.alice]
    hash = "sha256$<hex>"
    prefix = "sk-rag-Xy3"
    created = "2026-12-02T10:00:00Z"
    rate_limit_per_min = 120        # optional; else serve.rate_limit_per_min

A key is `sk-rag-` followed by 43 random base-62 characters (256 bits). It is printed
once, when it is made; the file keeps only its SHA-256 (a key this random needs no salt
or slow hash: there is nothing to guess), and a short prefix to tell keys apart. The
`sk-` shape is deliberate: rag's log redaction (`rag.llm.redact_logs`) masks anything
shaped like a provider key, so a key pasted into a log line never reaches the log.

`KeyStore` re-reads the file when it changes, so `rag keys add/remove` take effect on a
running server without a restart.

What it does not do: HTTP (see `rag.serve.auth`) or rate limiting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import string
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError, UsageError

PREFIX = "sk-rag-"
_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(r"^sk-rag-[A-Za-z0-9]{43}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_HEADER = (
    "# API keys of `rag serve` (rag keys add NAME). Only SHA-256 hashes of the keys are\n"
    "# kept here; a lost key cannot be recovered: remove it and add a new one.\n"
)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    name: str
    hash: str
    prefix: str
    created: str
    rate_limit_per_min: int | None = None


def new_key() -> str:
    """A fresh key: `sk-rag-` + 43 base-62 characters, at least one of them a digit."""
    while True:
        body = "".join(secrets.choice(_ALPHABET) for _ in range(43))
        if any(c.isdigit() for c in body):  # the log redaction's key shape needs a digit
            return PREFIX + body


def hash_key(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UsageError(
            f"invalid key name {name!r}: use 1-64 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


# --------------------------------------------------------------------------- the file


def load_keys(path: Path | str) -> dict[str, KeyEntry]:
    """name → entry. A missing file holds no keys."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"keys file {p} cannot be read: {e}; fix or remove it") from None
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise ConfigError(f"keys file {p}: [keys] must be a table of keys")
    out: dict[str, KeyEntry] = {}
    for name, e in table.items():
        h = e.get("hash") if isinstance(e, dict) else None
        if not isinstance(h, str) or not re.fullmatch(r"sha256\$[0-9a-f]{64}", h):
            raise ConfigError(
                f"keys file {p}: key {name!r} has no sha256 hash; remove it with "
                f"`rag keys remove {name}` and add a new one"
            )
        rate = e.get("rate_limit_per_min")
        if rate is not None and (not isinstance(rate, int) or rate < 1):
            raise ConfigError(f"keys file {p}: key {name!r}: rate_limit_per_min must be ≥ 1")
        out[str(name)] = KeyEntry(
            str(name), h, str(e.get("prefix", "")), str(e.get("created", "")), rate
        )
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=True)  # a JSON string is a valid TOML basic string


def save_keys(path: Path | str, keys: dict[str, KeyEntry]) -> None:
    """Write the keys file atomically, readable by its owner only."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    parts = [_HEADER]
    for name, e in sorted(keys.items()):
        parts.append(f"\n[keys.{_toml_str(name)}]\n")
        parts.append(f"hash = {_toml_str(e.hash)}\nprefix = {_toml_str(e.prefix)}\n")
        parts.append(f"created = {_toml_str(e.created)}\n")
        if e.rate_limit_per_min is not None:
            parts.append(f"rate_limit_per_min = {e.rate_limit_per_min}\n")
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(parts))
    os.replace(tmp, p)


def add_key(path: Path | str, name: str, rate_limit_per_min: int | None = None) -> str:
    """Make a key named `name` and store its hash; returns the key (shown once)."""
    check_name(name)
    if rate_limit_per_min is not None and rate_limit_per_min < 1:
        raise UsageError(f"--rate {rate_limit_per_min} is out of range; use 1 or more")
    keys = load_keys(path)
    if name in keys:
        raise UsageError(
            f"a key named {name!r} exists in {path}; remove it first (`rag keys remove "
            f"{name}`) or pick another name"
        )
    key = new_key()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    keys[name] = KeyEntry(name, hash_key(key), key[: len(PREFIX) + 4], created, rate_limit_per_min)
    save_keys(path, keys)
    return key


def remove_key(path: Path | str, name: str) -> None:
    keys = load_keys(path)
    if name not in keys:
        known = ", ".join(sorted(keys)) or "none"
        raise UsageError(f"no key named {name!r} in {path} (keys: {known}); see `rag keys list`")
    del keys[name]
    save_keys(path, keys)


# --------------------------------------------------------------------------- checking


class KeyStore:
    """The keys of a running server, re-read when the file changes (checked at most
    once a second)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._by_hash: dict[str, KeyEntry] = {}
        self.reload()

    def reload(self) -> None:
        keys = load_keys(self.path)
        with self._lock:
            self._by_hash = {e.hash: e for e in keys.values()}
            self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        if self._file_stamp() != self._stamp:
            with contextlib.suppress(ConfigError):  # a half-edited file: keep the keys we had
                self.reload()

    @property
    def required(self) -> bool:
        """True once any key exists."""
        self._fresh()
        return bool(self._by_hash)

    def check(self, key: str | None) -> KeyEntry | None:
        """The entry of a presented key, or None. The lookup is by SHA-256, so its
        timing says nothing about the stored keys."""
        self._fresh()
        if not key or not _KEY.match(key):
            return None
        return self._by_hash.get(hash_key(key))
