"""rag.chat.users and `rag users add`: hashed passwords, the users file, the auth mode."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.chat import users
from rag.cli import app, main
from rag.errors import ConfigError, UsageError


def test_hash_and_verify() -> None:
    h1, h2 = users.hash_password("correct horse"), users.hash_password("correct horse")
    assert h1 != h2  # salted
    assert h1.startswith("scrypt$") and "correct horse" not in h1
    assert users.verify_password("correct horse", h1)
    assert not users.verify_password("correct hors", h1)
    assert not users.verify_password("x", "scrypt$bad")
    assert not users.verify_password("x", "md5$1$2$3$00$00")


def test_users_file_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "conf" / "users.toml"
    assert users.add_user(f, "alice", "password-a") is True
    assert users.add_user(f, "bob@example.org", "password-b") is True
    assert users.add_user(f, "alice", "password-c") is False  # a new password
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    text = f.read_text()
    assert "password-" not in text  # hashes only
    loaded = users.load_users(f)
    assert set(loaded) == {"alice", "bob@example.org"}
    assert users.authenticate(f, "alice", "password-c")
    assert not users.authenticate(f, "alice", "password-a")
    assert not users.authenticate(f, "mallory", "password-c")


def test_bad_names_passwords_and_files(tmp_path: Path) -> None:
    f = tmp_path / "users.toml"
    for bad in ("", "a b", "../x", "x" * 65, "-x", 'a"]'):
        with pytest.raises(UsageError, match="invalid user name"):
            users.add_user(f, bad, "long enough")
    with pytest.raises(UsageError, match="too short"):
        users.add_user(f, "alice", "short")
    with pytest.raises(ConfigError, match="not found"):
        users.load_users(tmp_path / "missing.toml")
    f.write_text("[users\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        users.load_users(f)
    f.write_text('[users.eve]\npassword = "plain text"\n')
    with pytest.raises(ConfigError, match="no scrypt password hash"):
        users.load_users(f)


def test_auth_mode() -> None:
    assert users.auth_mode(Path("u.toml"), "0.0.0.0") == "password"
    assert users.auth_mode(Path("u.toml"), "127.0.0.1") == "password"
    assert users.auth_mode(None, "127.0.0.1") == "local"
    assert users.auth_mode(None, "localhost") == "local"
    assert users.auth_mode(None, "::1") == "local"
    assert users.auth_mode(None, "0.0.0.0") == "none"
    assert users.auth_mode(None, "192.168.1.5") == "none"


def test_local_sign_in_only_for_local_same_origin_requests() -> None:
    ok = {"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}
    assert users.local_request(ok)
    assert users.local_request({"host": "localhost:8000"})
    assert users.local_request({"host": "[::1]:8000", "origin": "http://[::1]:8000"})
    # DNS rebinding: the attacker's name is in the Host header
    assert not users.local_request({"host": "evil.example:8000"})
    # another site calling the local server
    assert not users.local_request({"host": "127.0.0.1:8000", "origin": "https://evil.example"})
    assert not users.local_request({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:9"})
    assert not users.local_request({})
    assert not users.local_request(None)


def test_auth_secret(tmp_path: Path) -> None:
    f = tmp_path / ".chat" / "auth_secret"
    assert users.auth_secret("from-env", f) == "from-env" and not f.exists()
    s = users.auth_secret(None, f)
    assert len(s) >= 32 and stat.S_IMODE(f.stat().st_mode) == 0o600
    assert users.auth_secret(None, f) == s  # kept: sessions survive restarts
    assert users.auth_secret("", f) == s


# --------------------------------------------------------------------------- the CLI


def test_cli_users_add_prompts_twice(tmp_path: Path) -> None:
    f = tmp_path / "users.toml"
    r = CliRunner().invoke(
        app, ["users", "add", "alice", "--file", str(f)], input="s3cret-pw\n" * 2
    )
    assert r.exit_code == 0, r.output
    assert f"added user alice in {f}" in r.output and "s3cret-pw" not in r.output
    assert users.authenticate(f, "alice", "s3cret-pw")
    r = CliRunner().invoke(
        app, ["users", "add", "alice", "--file", str(f)], input="n3w-passwd\n" * 2
    )
    assert "updated user alice" in r.output
    assert users.authenticate(f, "alice", "n3w-passwd")


def test_cli_users_add_mismatch_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "users.toml"
    r = CliRunner().invoke(
        app, ["users", "add", "alice", "--file", str(f)], input="first-pw1\nother-pw2\n"
    )
    assert r.exit_code != 0 and "do not match" in str(r.exception)  # a UsageError: one line
    assert not f.exists()


def test_cli_users_add_uses_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "configured.toml"
    monkeypatch.setenv("RAG_CHAT__USERS_FILE", str(f))
    r = CliRunner().invoke(app, ["users", "add", "bob"], input="long-enough\n" * 2)
    assert r.exit_code == 0, r.output
    assert "bob" in users.load_users(f)


def test_cli_users_add_without_a_file_is_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["users", "add", "bob"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: no users file: pass --file PATH or set chat.users_file (RAG_CHAT__USERS_FILE)"
    )
