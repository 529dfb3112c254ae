"""Write errors during ingest on a real small file system: a full disk (a 400 KB tmpfs)
and a read-only one. Each gives one line naming the index and the free space needed (or
the path refused), exit 4; the temporary folder is gone and the old generation still
answers. Mounting needs root: the tests skip, saying so, otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import api
from rag.errors import IndexWriteError, RagError
from rag.resources import articles_dir
from rag.store import current_generation

from .conftest import MULTIHOP, settings_for, write
from .test_cli import one_line_error, run
from .test_damage import DEMO, snapshot


def _mount(path: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (run the tests as root to cover this)")
    if shutil.which("mount") is None:
        pytest.skip("no `mount` command on this machine")
    path.mkdir(exist_ok=True)
    p = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if p.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")


def _remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    _mount(disk, "size=400k,mode=0755")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _news(folder: Path, n: int = 20) -> Path:
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))[:n]
    for i, r in enumerate(records):
        write(folder / f"news-{i:02d}.md", f"# {r['title']}\n\n{r['body'][:3000]}\n")
    return folder


def _answers(capsys: pytest.CaptureFixture[str], index: Path) -> None:
    code, out, err = run(capsys, "ask", DEMO, "--json", "--index", str(index))
    assert code == 0, err
    answer = json.loads(out)
    assert not answer["abstained"] and answer["citations"]


def test_full_disk_names_the_space_needed_and_keeps_the_old_generation(
    capsys: pytest.CaptureFixture[str], small_disk: Path, tmp_path: Path
) -> None:
    index = small_disk / "index"
    ix = ("--index", str(index))
    code, _, err = run(capsys, "ingest", str(articles_dir()), "-q", *ix)
    assert code == 0, err
    live = current_generation(index)
    before = snapshot(index)

    news = _news(tmp_path / "news")
    code, _, err = run(capsys, "ingest", str(news), "-q", *ix)
    line = one_line_error(err)
    assert code == 4, err
    assert str(index) in line and "disk full" in line, line
    assert "needs about" in line and f"free on {small_disk}" in line, line
    assert f"keeps its 2 documents untouched ({live})" in line, line
    assert not [p.name for p in index.iterdir() if ".tmp-" in p.name]  # temp folder removed
    assert snapshot(index) == before and current_generation(index) == live
    _answers(capsys, index)
    assert run(capsys, "index", "verify", *ix)[0] == 0

    # with room again, the same ingest goes through
    _remount(small_disk, "size=20m")
    code, out, err = run(capsys, "ingest", str(news), "-q", *ix)
    assert code == 0, err
    assert "20 added" in out


def test_read_only_file_system_names_the_path_refused(
    capsys: pytest.CaptureFixture[str], small_disk: Path, tmp_path: Path
) -> None:
    index = small_disk / "index"
    assert run(capsys, "ingest", str(articles_dir()), "-q", "--index", str(index))[0] == 0
    live = current_generation(index)
    _remount(small_disk, "ro")
    news = _news(tmp_path / "news", 2)
    code, _, err = run(capsys, "ingest", str(news), "-q", "--index", str(index))
    line = one_line_error(err)
    assert code == 4 and "read-only file system" in line and str(index) in line, line
    assert f"untouched ({live})" in line
    _answers(capsys, index)  # reading needs no write access

    fresh = small_disk / "other"
    code, _, err = run(capsys, "ingest", str(news), "-q", "--index", str(fresh))
    line = one_line_error(err)
    assert code == 4 and str(fresh) in line and "nothing was stored" in line, line


def test_the_faces_get_a_rag_error(small_disk: Path, encoder: object) -> None:
    """The chat and `rag serve` turn RagError into a message: a full disk while the
    first question builds the index is one (not an OSError or sqlite3 error)."""
    _remount(small_disk, "size=60k")
    s = settings_for(small_disk / "index")
    pipeline = api.Pipeline(s)
    with pytest.raises(IndexWriteError) as e:
        pipeline.ensure_index()
    assert isinstance(e.value, RagError) and "disk full" in str(e.value)
    assert not list((small_disk / "index").glob("gen-*"))
