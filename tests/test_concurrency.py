"""Concurrency: ingests publish while readers answer; two ingests at once never corrupt.

The corpus exists in two editions, "amber" and "cobalt": the same document ids, every
sentence naming its edition. Ingests alternate between the editions, each publishing one
generation (commit_every_s is huge), while readers answer: threads sharing one
`Pipeline` (what the chat app and `rag eval` hold) and `rag ask --json` processes. A
reader must see the old index or the new one, never a mix: every passage of one answer
comes from the same edition, and no reader ever fails. The chat app under the same load
is in test_chat_browser.py (`test_answers_while_an_ingest_publishes`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag import api
from rag.store import IndexWriter, current_generation, open_index

from .conftest import settings_for, write

EDITIONS = ("amber", "cobalt")
TOPICS = {
    "bridge": "the new bridge over the river opened to traffic on Monday after four years",
    "harbour": "the harbour authority approved a second container terminal for the port",
    "library": "the city library extended its opening hours to ten in the evening",
    "tram": "the tram line to the airport carried twelve thousand riders in its first week",
    "school": "the school board hired forty teachers before the start of the year",
    "market": "the farmers market moved to the old railway station for the winter",
}
QUESTIONS = [
    "When did the new bridge open to traffic?",
    "What did the harbour authority approve?",
    "How many riders did the tram line carry?",
    "Where did the farmers market move?",
]


def edition_corpus(root: Path, edition: str) -> Path:
    """One folder of the corpus in one edition; every sentence names the edition."""
    folder = root / edition
    for topic, fact in TOPICS.items():
        body = (
            f"In the {edition} edition, {fact}. "
            f"The {edition} edition adds that officials welcomed the news about the {topic}. "
            f"Readers of the {edition} edition wrote letters about the {topic}."
        )
        write(folder / f"{topic}.md", f"# The {topic} report\n\n{body}\n")
    return folder


def editions_in(texts: list[str]) -> set[str]:
    return {e for e in EDITIONS for t in texts if f"{e} edition" in t}


def cli_env(index: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_INDEX__DIR=str(index), RAG_INDEX__COMMIT_EVERY_S="1000000", **extra)
    return env


def rag_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *args]


@pytest.fixture
def two_editions(tmp_path: Path, encoder: object) -> tuple[Path, dict[str, Path]]:
    folders = {e: edition_corpus(tmp_path / "corpus", e) for e in EDITIONS}
    index = tmp_path / "index"
    api.ingest([folders["amber"]], settings_for(index), encoder=encoder)  # type: ignore[arg-type]
    return index, folders


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readers_see_one_generation_while_ingests_publish(
    two_editions: tuple[Path, dict[str, Path]],
) -> None:
    index, folders = two_editions
    pipe = api.Pipeline(settings_for(index, retrieval={"top_k": len(TOPICS)}))
    pipe.ask(QUESTIONS[0])  # load the models before the clock starts
    stop = threading.Event()
    errors: list[str] = []
    seen: dict[str, set[str]] = {"pipeline": set(), "cli": set()}
    answers = {"pipeline": 0, "cli": 0}
    generations: set[str] = set()

    def pipeline_reader(n: int) -> None:
        i = n
        while not stop.is_set():
            q = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            try:
                a = pipe.ask(q)
                found = editions_in([h.chunk.text for h in a.hits] + [a.text])
                if len(found) != 1:
                    errors.append(f"pipeline, {q!r}: editions {sorted(found)} in one answer")
                seen["pipeline"] |= found
                answers["pipeline"] += 1
                generations.add(pipe.index().generation)
                time.sleep(0.02)  # leave the cores to the ingests
            except Exception as e:  # any failure of a reader is what this test looks for
                errors.append(f"pipeline, {q!r}: {type(e).__name__}: {e}")

    def cli_reader() -> None:
        i = 0
        while not stop.is_set():
            q = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            cmd = rag_cmd("ask", q, "--json", "--top-k", str(len(TOPICS)))
            p = subprocess.run(cmd, env=cli_env(index), capture_output=True, text=True)
            if p.returncode != 0:
                errors.append(f"rag ask {q!r} exited {p.returncode}: {p.stderr.strip()}")
                continue
            out = json.loads(p.stdout)
            found = editions_in([h["text"] for h in out["hits"]] + [out["answer"]])
            if len(found) != 1:
                errors.append(f"rag ask {q!r}: editions {sorted(found)} in one answer")
            seen["cli"] |= found
            answers["cli"] += 1

    readers = [threading.Thread(target=pipeline_reader, args=(n,)) for n in range(2)]
    readers.append(threading.Thread(target=cli_reader))
    for t in readers:
        t.start()
    ingests = 0
    try:
        for edition in ("cobalt", "amber", "cobalt", "amber", "cobalt", "amber"):
            p = subprocess.run(
                rag_cmd("ingest", str(folders[edition]), "-q"),
                env=cli_env(index),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert p.returncode == 0, p.stderr
            ingests += 1
            time.sleep(0.5)  # let the readers see this generation
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=120)
    assert not errors, "\n".join(errors[:10])
    assert answers["pipeline"] >= 10 and answers["cli"] >= 3, answers
    # the readers did see the index change under them, both ways
    assert seen["pipeline"] == set(EDITIONS), seen
    assert len(generations) >= 3, generations
    final = open_index(index)
    assert len(final.doc_rows()) == len(TOPICS)
    assert editions_in([c.text for c in final.all_chunks()]) == {"amber"}
    print(
        f"\nconcurrency: {ingests} ingests published while {answers['pipeline']} pipeline "
        f"asks (2 threads) and {answers['cli']} `rag ask` processes answered; "
        f"{len(generations)} generations seen, 0 errors, 0 mixed answers"
    )


@pytest.mark.slow
def test_two_ingests_at_once_one_waits(two_editions: tuple[Path, dict[str, Path]]) -> None:
    """Two ingests started while a third writer holds the lock both wait for it, then
    run one after the other: both succeed, and the index holds one edition wholly."""
    index, folders = two_editions
    before = current_generation(index)
    with IndexWriter(index):
        procs = [
            subprocess.Popen(
                rag_cmd("ingest", str(folders[e]), "-q"),
                env=cli_env(index),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for e in ("cobalt", "amber")
        ]
        time.sleep(3.0)  # both have read their files and now wait for the lock
        assert [p.poll() for p in procs] == [None, None]
        assert current_generation(index) == before
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    idx = open_index(index)
    assert idx.generation != before
    assert len(idx.doc_rows()) == len(TOPICS)
    assert len(editions_in([c.text for c in idx.all_chunks()])) == 1  # the last one, wholly
    assert not [p.name for p in index.iterdir() if ".tmp-" in p.name]


def test_a_second_ingest_fails_clearly_while_one_holds_the_lock(
    two_editions: tuple[Path, dict[str, Path]],
) -> None:
    """With a short lock timeout, `rag ingest` fails in one line and changes nothing."""
    index, folders = two_editions
    before = current_generation(index)
    env = cli_env(index, RAG_INDEX__LOCK_TIMEOUT_S="0.5")
    cmd = rag_cmd("ingest", str(folders["cobalt"]), "-q")
    with IndexWriter(index):  # another ingest, in the middle of its work
        second = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert second.returncode == 1
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "locked by another ingest" in lines[0], second.stderr
    assert str(index) in lines[0] and "lock_timeout_s" in lines[0]
    assert current_generation(index) == before
    assert editions_in([c.text for c in open_index(index).all_chunks()]) == {"amber"}
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)  # lock released
    assert again.returncode == 0, again.stderr
    assert editions_in([c.text for c in open_index(index).all_chunks()]) == {"cobalt"}
