"""`rag serve` keeps answering while uploads are ingested and published.

The two-edition corpus of test_concurrency.py: the same documents in an "amber" and a
"cobalt" edition, every sentence naming its edition. The server starts on the amber
edition; uploads alternate the editions (same file names, so each upload updates every
document and publishes one generation) while clients ask without pause over REST, over
the OpenAI SDK and streamed. Every answer must come from one edition (one generation),
no request may fail, and the readers must see the index change under them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from rag import api

from .conftest import settings_for
from .serve_helpers import ServeProcess, wait_job
from .test_concurrency import EDITIONS, QUESTIONS, TOPICS, edition_corpus, editions_in


@pytest.fixture
def edition_server(tmp_path: Path, encoder: Any) -> Iterator[tuple[ServeProcess, dict[str, Path]]]:
    folders = {e: edition_corpus(tmp_path / "corpus", e) for e in EDITIONS}
    index = tmp_path / "index"
    api.ingest([folders["amber"]], settings_for(index), encoder=encoder)
    with ServeProcess(index, tmp_path / "serve.log") as s:
        yield s, folders


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_answers_stay_whole_while_uploads_publish(
    edition_server: tuple[ServeProcess, dict[str, Path]],
) -> None:
    server, folders = edition_server
    k = len(TOPICS)
    stop = threading.Event()
    errors: list[str] = []
    seen: dict[str, set[str]] = {"rest": set(), "chat": set(), "stream": set()}
    answers = dict.fromkeys(seen, 0)
    generations: set[str] = set()

    def check(kind: str, q: str, texts: list[str]) -> None:
        found = editions_in(texts)
        if len(found) != 1:
            errors.append(f"{kind}, {q!r}: editions {sorted(found)} in one answer")
        seen[kind] |= found
        answers[kind] += 1

    def rest_reader() -> None:
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            i = 0
            while not stop.is_set():
                q = QUESTIONS[i % len(QUESTIONS)]
                i += 1
                try:
                    r = http.post("/v1/ask", json={"question": q, "top_k": k})
                    r.raise_for_status()
                    a = r.json()
                    check("rest", q, [h["text"] for h in a["hits"]] + [a["answer"]])
                    generations.add(http.get("/v1/documents").json()["generation"])
                    time.sleep(0.02)  # leave the cores to the ingests
                except Exception as e:  # any failure is what this test looks for
                    errors.append(f"rest, {q!r}: {type(e).__name__}: {e}")

    def chat_reader(stream: bool) -> None:
        client = openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0)
        kind = "stream" if stream else "chat"
        i = 1
        while not stop.is_set():
            q = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            messages = [{"role": "user", "content": q}]
            try:
                if stream:
                    texts: list[str] = []
                    for chunk in client.chat.completions.create(
                        model="rag", messages=messages, stream=True, extra_body={"top_k": k}
                    ):
                        for c in chunk.choices:
                            texts.append(c.delta.content or "")
                            if c.finish_reason:
                                texts += [x["text"] for x in chunk.model_extra["citations"]]
                    check(kind, q, ["".join(texts)])
                else:
                    r = client.chat.completions.create(
                        model="rag", messages=messages, extra_body={"top_k": k}
                    )
                    cited = [x["text"] for x in r.model_extra["citations"]]
                    check(kind, q, [*cited, r.choices[0].message.content or ""])
            except Exception as e:
                errors.append(f"{kind}, {q!r}: {type(e).__name__}: {e}")
            time.sleep(0.02)

    readers = [
        threading.Thread(target=rest_reader),
        threading.Thread(target=chat_reader, args=(False,)),
        threading.Thread(target=chat_reader, args=(True,)),
    ]
    for t in readers:
        t.start()
    jobs = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            for edition in ("cobalt", "amber", "cobalt", "amber"):
                files = [
                    ("file", (p.name, p.read_bytes())) for p in sorted(folders[edition].iterdir())
                ]
                r = http.post("/v1/documents", files=files)
                assert r.status_code == 202, r.text
                job = wait_job(http, r.json())
                assert job["status"] == "succeeded", job
                assert sorted(job["report"]["updated"]) == sorted(TOPICS), job
                jobs.append(job)
                time.sleep(1.0)  # let the readers see this generation
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=120)
    assert not errors, "\n".join(errors[:10])
    assert min(answers.values()) >= 5, answers
    assert set().union(*seen.values()) == set(EDITIONS), seen
    assert len(generations) >= 3, generations
    assert server.alive()
    print(
        f"\nserve concurrency: {len(jobs)} uploads published while {answers} answers "
        f"came back; {len(generations)} generations seen, 0 errors, 0 mixed answers"
    )
