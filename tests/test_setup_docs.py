"""Setting up the chat as README tells a newcomer (issue 13): one command, only the chat's
extra, and no instruction that fails on a `make demo` venv."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(target: str, venv: Path) -> list[str]:
    """The commands `make TARGET` would run for a fresh venv (nothing is run)."""
    p = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return p.stdout.splitlines()


def test_make_chat_installs_the_chat_extra_only(tmp_path: Path) -> None:
    cmds = dry_run("chat", tmp_path / "fresh")
    installs = [c for c in cmds if " install " in c and "--upgrade pip" not in c]
    assert installs == [
        f"{tmp_path / 'fresh'}/bin/pip install -q -e .",
        f'{tmp_path / "fresh"}/bin/pip install -q -e ".[chat]"',
    ]
    assert not any("apt-get" in c or "chromium" in c for c in cmds)
    assert cmds[-1].endswith("chainlit run app.py --host 127.0.0.1 --port 8000")
    # and that extra holds the chat's packages, not the test tools
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    chat = " ".join(extras["chat"])
    assert "chainlit" in chat and "aiosqlite" in chat
    assert not any(tool in chat for tool in ("pytest", "ruff", "playwright", "hypothesis"))


def test_make_demo_does_not_install_the_chat(tmp_path: Path) -> None:
    cmds = dry_run("demo", tmp_path / "fresh")
    assert not any(".[chat]" in c or ".[dev]" in c for c in cmds)


def test_readme_first_screen_says_how_to_get_the_chat() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first_screen = "\n".join(lines[:24])
    code = [x for x in lines[:8] if x.startswith("make ")]
    assert [x.split()[1] for x in code] == ["demo", "test"]  # the two set-up commands first
    assert "`make chat`" in first_screen and "http://127.0.0.1:8000" in first_screen
    assert "chat` extra" in first_screen


@pytest.mark.parametrize("doc", ["README.md", "docs/chat.md"])
def test_no_instruction_runs_chainlit_without_its_extra(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "activate && chainlit run" not in text
    # the first by-hand `chainlit run` comes after the line that installs the extra
    first_run = text.index("chainlit run app.py")
    assert '".[chat]"' in text[:first_run]
