"""Chat users and the chat's authentication mode (no chainlit import).

The users file is TOML (`chat.users_file`, written by `rag users add NAME`):

    [users.alice]
    password = "scrypt$16384$8$1$<salt hex>$<hash hex>"

Passwords are stored only as salted scrypt hashes (stdlib `hashlib.scrypt`) and checked
in constant time; the file is written atomically with mode 0600.

Authentication modes of the chat (`auth_mode`):
- `password`: a users file is configured → a login form; each user sees their own
  conversations.
- `local`: no users file and the server listens on a loopback address only (the
  default `chainlit run app.py`) → everyone who can reach the server is the one local
  user "local", signed in without a form, so the conversation history in the sidebar
  works. Requests whose Host header is not a loopback name (DNS rebinding) or whose
  Origin is another site are refused.
- `none`: no users file on a non-loopback address → no login and no history.

chainlit needs CHAINLIT_AUTH_SECRET for any login; when it is not set, `auth_secret`
creates a per-install one in the chat folder (mode 0600), so sessions survive restarts.

What it does not do: talk to chainlit or prompt for passwords (the CLI does).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from rag.errors import ConfigError, UsageError

AuthMode = Literal["password", "local", "none"]
LOCAL_USER = "local"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_HEADER = (
    "# Chat users (rag users add NAME --file THIS_FILE). Passwords are salted scrypt\n"
    "# hashes; never put a plain-text password here.\n"
)


# --------------------------------------------------------------------------- passwords


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash: `scrypt$N$r$p$salt_hex$hash_hex`."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time comparison)."""
    try:
        algo, n, r, p, salt_hex, hash_hex = stored.split("$")
        if algo != "scrypt":
            return False
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


_DUMMY = hash_password("not a password", salt=b"\0" * 16)


# --------------------------------------------------------------------------- the file


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UsageError(
            f"invalid user name {name!r}: use 1-64 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


def load_users(path: Path | str) -> dict[str, str]:
    """name → password hash. A missing file is an error (it was configured)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"users file {p} not found; create it with `rag users add NAME --file {p}` "
            "or unset chat.users_file (RAG_CHAT__USERS_FILE)"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"users file {p} cannot be read: {e}") from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise ConfigError(f"users file {p}: [users] must be a table of users")
    out: dict[str, str] = {}
    for name, entry in users.items():
        pw = entry.get("password") if isinstance(entry, dict) else None
        if not isinstance(pw, str) or not pw.startswith("scrypt$"):
            raise ConfigError(
                f"users file {p}: user {name!r} has no scrypt password hash; "
                f"set one with `rag users add {name} --file {p}`"
            )
        out[str(name)] = pw
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=True)  # a JSON string is a valid TOML basic string


def save_users(path: Path | str, users: dict[str, str]) -> None:
    """Write the users file atomically, readable by its owner only."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = _HEADER + "".join(
        f"\n[users.{_toml_str(name)}]\npassword = {_toml_str(pw)}\n"
        for name, pw in sorted(users.items())
    )
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(body)
    os.replace(tmp, p)


def add_user(path: Path | str, name: str, password: str) -> bool:
    """Add a user or set a new password; True when the user is new."""
    check_name(name)
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"password too short: use at least {MIN_PASSWORD} characters")
    p = Path(path)
    users = load_users(p) if p.exists() else {}
    new = name not in users
    users[name] = hash_password(password)
    save_users(p, users)
    return new


def authenticate(path: Path | str, name: str, password: str) -> bool:
    """Check a login against the users file (read on every login, so added users work
    without a restart). Unknown users cost the same time as wrong passwords."""
    stored = load_users(path).get(name)
    ok = verify_password(password, stored or _DUMMY)
    return ok and stored is not None


# --------------------------------------------------------------------------- auth mode


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost (what `chainlit run --host` binds)."""
    if not host:
        return False
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def auth_mode(users_file: Path | None, bind_host: str | None) -> AuthMode:
    if users_file is not None:
        return "password"
    return "local" if is_loopback(bind_host) else "none"


def _host_of(netloc: str) -> str:
    return urlparse("//" + netloc).hostname or ""


def local_request(headers: dict[str, str] | object) -> bool:
    """May this request sign in as the local user?

    The Host header must be a loopback name (a DNS-rebound attacker page has its own
    name there) and an Origin, when the browser sends one, must be that same host.
    """
    get = getattr(headers, "get", None)
    if get is None:
        return False
    host = get("host") or ""
    if not is_loopback(_host_of(host)):
        return False
    origin = get("origin")
    if origin and origin != "null":
        return urlparse(origin).netloc.lower() == host.lower()
    return True


def auth_secret(env_value: str | None, secret_file: Path) -> str:
    """CHAINLIT_AUTH_SECRET if set, else a per-install secret kept in `secret_file`."""
    if env_value:
        return env_value
    try:
        value = secret_file.read_text(encoding="ascii").strip()
        if len(value) >= 32:
            return value
    except FileNotFoundError:
        pass
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = secret_file.with_name(f".{secret_file.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value + "\n")
    try:
        os.link(tmp, secret_file)  # first writer wins when two processes start together
    except FileExistsError:
        value = secret_file.read_text(encoding="ascii").strip()
    finally:
        tmp.unlink()
    return value
