"""Ctrl-C (SIGINT) and SIGTERM during `rag ingest`: what was published stays, one line
says what was kept and how to go on, the exit status is 130 / 143; a rerun finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.cli import main
from rag.store import current_generation, open_index

from .conftest import write
from .news_server import Page, Site

N_DOCS = 40


def corpus(root: Path) -> Path:
    for i in range(N_DOCS):
        paras = [
            f"Report {i}: the council of town number {i} met on Monday to discuss the budget "
            f"for road repairs, which rose by {i + 3} percent this year." * 3,
            f"Residents of town {i} asked for more buses and a new library; the mayor said "
            f"a decision would come in {2027 + i % 5}." * 3,
        ]
        write(root / f"town-{i:02d}.md", f"# Town {i} budget\n\n" + "\n\n".join(paras))
    return root


def start(args: list[str], index: Path, **env: str) -> subprocess.Popen[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    e |= {"RAG_INDEX__DIR": str(index), "RAG_INDEX__COMMIT_EVERY_S": "0", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", *args, "-q"],
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_after_first_commit(index: Path, sig: int, timeout: float = 240) -> threading.Thread:
    """Sends `sig` to this process once the ingest has published its first generation."""

    def wait() -> None:
        t0 = time.monotonic()
        while current_generation(index) is None and time.monotonic() - t0 < timeout:
            time.sleep(0.01)
        os.kill(os.getpid(), sig)

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize(("sig", "code", "word"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated"),
])  # fmt: skip
def test_a_signal_mid_ingest_keeps_what_was_published(
    tmp_path: Path,
    sig: signal.Signals,
    code: int,
    word: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`rag ingest` as the CLI runs it, in this process: a signal arrives after the first
    of many small published steps (4 chunks each)."""
    from rag.ingest import update

    src, index = corpus(tmp_path / "in"), tmp_path / "ix"
    monkeypatch.setattr(update, "EMBED_BATCH_CHUNKS", 4)
    monkeypatch.setenv("RAG_INDEX__COMMIT_EVERY_S", "0")
    t = signal_after_first_commit(index, sig)
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", str(src), "--index", str(index), "-q"])
    t.join()
    out, err = capsys.readouterr()
    assert exit_.value.code == code and not out, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    assert line.startswith(f"{word}: index {index} kept "), line
    assert f"of the {N_DOCS} new or changed documents" in line
    assert "run the same `rag ingest` again" in line
    kept = int(line.split(" kept ")[1].split()[0])
    idx = open_index(index)
    assert 0 < kept < N_DOCS and len(idx.doc_rows()) == kept  # what it says is what is stored
    for c in idx.all_chunks():
        assert idx.doc_text(c.doc_id)[c.start : c.end] == c.text  # type: ignore[index]
    assert not [x for x in index.iterdir() if ".tmp-" in x.name]  # no half-written generation
    assert signal.getsignal(sig) is not None  # handlers put back
    main(["ingest", str(src), "--index", str(index), "-q"])  # the rerun adds the rest
    out, err = capsys.readouterr()
    assert out.startswith(f"{N_DOCS - kept} added, 0 updated, {kept} unchanged"), (out, err)
    assert len(open_index(index).doc_rows()) == N_DOCS


@pytest.mark.slow
def test_a_signal_while_fetching_stores_nothing_and_says_so(
    tmp_path: Path, news_site: Site
) -> None:
    write(tmp_path / "in" / "a.md", "# A\n\nThe ferry to Bayview runs every hour.")
    index = tmp_path / "ix"
    p = start([str(tmp_path / "in")], index, RAG_INDEX__COMMIT_EVERY_S="30")
    assert p.wait(timeout=240) == 0
    news_site.pages["/slow.html"] = Page("<p>late</p>", delay_s=30)
    p = start([news_site.url("/slow.html")], index)
    t0 = time.monotonic()
    while news_site.hits["/slow.html"] == 0:
        assert time.monotonic() - t0 < 120 and p.poll() is None
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.strip() == (
        f"interrupted: nothing new was stored in index {index} (it keeps its 1 documents); "
        "run the same `rag ingest` again to continue"
    )
    assert [r["id"] for r in open_index(index).doc_rows()] == ["a"]


@pytest.mark.slow
def test_sigterm_ends_other_commands_in_one_line(tmp_path: Path) -> None:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    e["RAG_INDEX__DIR"] = str(tmp_path / "ix")
    code = "import time; from rag.cli import app, main\n"
    code += "app.command('wait')(lambda: (print('ready', flush=True), time.sleep(60)))\n"
    code += "main(['wait'])"
    p = subprocess.Popen(
        [sys.executable, "-c", code],
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and err.strip() == "terminated", err
