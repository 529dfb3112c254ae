"""`rag serve` over plain HTTP (httpx): the REST routes, uploads, bad inputs, limits.

Each bad input gets a 4xx in OpenAI's error shape with a message naming the problem,
and the server keeps answering afterwards.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from .serve_helpers import ServeProcess, serve_env, wait_job

QUESTION = "Why did Russia lift the ban on the Taliban?"
ARTICLE = (
    "# Arden harbour expands\n\n"
    "The harbour authority of Arden approved a second container terminal on Tuesday. "
    "The terminal will handle four hundred thousand containers a year, the mayor said.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, bundled_index: Path) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-rest")
    index = root / "index"
    shutil.copytree(bundled_index, index)
    env = {
        "RAG_SERVE__MAX_BODY_KB": "64",
        "RAG_SERVE__MAX_UPLOAD_MB": "1",
        "RAG_LIMITS__MAX_FILE_MB": "0.25",
        "RAG_SERVE__CORS_ORIGINS": '["http://localhost:3000"]',
    }
    with ServeProcess(index, root / "serve.log", env=env) as s:
        yield s


@pytest.fixture
def http(server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=60) as c:
        yield c


def error_of(r: httpx.Response) -> dict[str, object]:
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and "\n" not in body["error"]["message"]
    return body["error"]


# --------------------------------------------------------------------------- REST


def test_ask_returns_the_rag_ask_json_contract(http: httpx.Client, server: ServeProcess) -> None:
    r = http.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200
    got = r.json()
    cli = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", QUESTION, "--json", "--index", str(server.index)],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    want = json.loads(cli.stdout)
    assert set(got) == set(want)
    for key in set(want) - {"timings_ms"}:
        assert got[key] == want[key], key
    assert got["citations"] and not got["abstained"]


def test_documents_are_listed_and_paged(http: httpx.Client) -> None:
    r = http.get("/v1/documents")
    assert r.status_code == 200
    body = r.json()
    ids = [d["id"] for d in body["data"]]
    assert body["total"] == len(ids) >= 2 and body["generation"].startswith("gen-")
    assert "russia-lifts-ban-on-taliban" in ids
    page = http.get("/v1/documents", params={"limit": 1, "offset": 1}).json()
    assert [d["id"] for d in page["data"]] == ids[1:2]
    assert error_of(http.get("/v1/documents", params={"limit": 0}))["param"] == "limit"


def test_health_and_openapi(http: httpx.Client) -> None:
    h = http.get("/healthz")
    assert h.status_code == 200
    assert h.json()["status"] == "ok" and h.json()["chunks"] > 0
    spec = http.get("/openapi.json").json()
    for path in ("/v1/chat/completions", "/v1/models", "/v1/ask", "/v1/documents", "/healthz"):
        assert path in spec["paths"]
    responses = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"200", "400", "401", "413", "429", "503"} <= set(responses) and "422" not in responses


def test_upload_is_ingested_by_a_job_and_answered(
    http: httpx.Client, server: ServeProcess, tmp_path: Path
) -> None:
    r = http.post("/v1/documents", files={"file": ("arden-harbour.md", ARTICLE.encode())})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job = wait_job(http, r.json())
    assert job["status"] == "succeeded", job
    assert job["report"]["added"] == ["arden-harbour"]
    assert job["progress"]["fraction"] == 1.0 and job["progress"]["chunks_done"] >= 1
    assert "index" not in job["report"]  # no server paths in what clients see
    assert "arden-harbour" in [d["id"] for d in http.get("/v1/documents").json()["data"]]
    answer = http.post(
        "/v1/ask", json={"question": "What did the harbour authority of Arden approve?"}
    )
    assert "container terminal" in answer.json()["answer"]
    assert answer.json()["citations"][0]["doc_id"] == "arden-harbour"
    stored = server.index / "uploads" / "arden-harbour.md"
    assert stored.read_text(encoding="utf-8") == ARTICLE  # the index's input, kept
    # the same name again with new text updates that document
    new = ARTICLE.replace("four hundred thousand", "six hundred thousand")
    again = wait_job(
        http, http.post("/v1/documents", files={"file": ("arden-harbour.md", new)}).json()
    )
    assert again["report"]["updated"] == ["arden-harbour"], again
    assert stored.read_text(encoding="utf-8") == new
    assert [j["id"] for j in http.get("/v1/jobs").json()["data"]][:2] == [again["id"], job["id"]]


def test_a_failed_upload_keeps_the_earlier_file(http: httpx.Client, server: ServeProcess) -> None:
    good = json.dumps({"id": "note", "title": "Arden harbour", "text": ARTICLE})
    first = wait_job(http, http.post("/v1/documents", files={"file": ("note.json", good)}).json())
    assert first["status"] == "succeeded", first
    broken = wait_job(
        http, http.post("/v1/documents", files={"file": ("note.json", "{not json")}).json()
    )
    assert broken["status"] == "failed", broken
    assert broken["error"].startswith("note.json: invalid JSON"), broken
    assert str(server.index) not in json.dumps(broken)  # file names only, no server paths
    assert (server.index / "uploads" / "note.json").read_text(encoding="utf-8") == good


def test_bad_uploads(http: httpx.Client, server: ServeProcess) -> None:
    cases = [
        ({"file": ("notes.exe", b"MZ")}, 415, "notes.exe"),
        ({"file": ("empty.md", b"")}, 400, "empty.md is empty"),
        ({"file": (".hidden.md", b"x")}, 400, "cannot be used"),
        ({"file": ("big.md", b"x" * 300_000)}, 413, "limits.max_file_mb"),
    ]
    for files, status, words in cases:
        r = http.post("/v1/documents", files=files)
        assert r.status_code == status, (files, r.text)
        assert words in error_of(r)["message"]
    r = http.post(
        "/v1/documents", files={"file": ("a.md", b"x" * 600_000), "files": ("b.md", b"y" * 600_000)}
    )
    assert r.status_code == 413 and "serve.max_upload_mb" in error_of(r)["message"]
    assert http.post("/v1/documents", data={"nothing": "here"}).status_code == 400
    r = http.post("/v1/documents", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = http.post("/v1/documents", content=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in error_of(r)["message"]
    many = [("file", (f"n{i}.md", b"x")) for i in range(101)]  # serve.max_upload_files: 100
    r = http.post("/v1/documents", files=many)
    assert r.status_code == 400 and "files" in error_of(r)["message"].lower()
    assert not any((server.index / "uploads" / ".incoming").iterdir())  # nothing left staged


def test_urls_inside_the_network_or_not_http_are_refused(http: httpx.Client) -> None:
    for urls, words in (
        (["http://127.0.0.1:9/page.html"], "private or local address (127.0.0.1)"),
        (["http://10.1.2.3/feed.xml"], "serve.allow_private_urls"),
        (["ftp://example.org/a.txt"], "use an http:// or https:// URL"),
        (["http://no-such-host.invalid/x"], "cannot be resolved"),
    ):
        r = http.post("/v1/documents", json={"urls": urls})
        assert r.status_code == 400, r.text
        assert words in error_of(r)["message"]
    r = http.post("/v1/documents", data={"url": "http://[::1]:9/"})
    assert r.status_code == 400 and "private or local" in error_of(r)["message"]


PAGE = """<!doctype html><html><head><title>Ferry contract signed | Bayview Daily</title>
<meta property="og:site_name" content="Bayview Daily">
<meta property="article:published_time" content="2026-11-30"></head>
<body><nav>Home | Sports | Weather</nav><article><h1>Ferry contract signed</h1>
<p>The Bayview ferry contract was signed on Monday by harbour master Maria Holm, who said
the new boats will run every twenty minutes from April.</p>
<p>The council approved the contract last week after a long debate about fares.</p>
</article><footer>Subscribe to our newsletter</footer></body></html>"""


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[str]:
    """A web server on 127.0.0.1 with one article page."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "ferry.html").write_text(PAGE, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_url_is_ingested_by_a_job(tmp_path: Path, bundled_index: Path, page_server: str) -> None:
    index = tmp_path / "index"
    shutil.copytree(bundled_index, index)
    env = {"RAG_SERVE__ALLOW_PRIVATE_URLS": "true"}  # the page is on 127.0.0.1
    with (
        ServeProcess(index, tmp_path / "serve.log", env=env) as s,
        httpx.Client(base_url=s.base_url, timeout=60) as client,
    ):
        r = client.post("/v1/documents", json={"urls": [f"{page_server}/ferry.html"]})
        assert r.status_code == 202, r.text
        job = wait_job(client, r.json())
        assert job["status"] == "succeeded", job
        assert job["urls"] == [f"{page_server}/ferry.html"] and len(job["report"]["added"]) == 1
        a = client.post("/v1/ask", json={"question": "Who signed the Bayview ferry contract?"})
        assert "Maria Holm" in a.json()["answer"], a.json()
        cited = a.json()["citations"][0]
        assert (
            cited["url"] == f"{page_server}/ferry.html"
            and cited["title"] == "Ferry contract signed"
        )
        missing = client.post("/v1/documents", json={"urls": [f"{page_server}/gone.html"]})
        failed = wait_job(client, missing.json())
        assert failed["status"] == "failed" and "404" in failed["error"], failed


# --------------------------------------------------------------------------- bad input


def test_bad_requests_get_clear_4xx_and_the_server_stays_up(
    http: httpx.Client, server: ServeProcess
) -> None:
    chat = "/v1/chat/completions"
    user = [{"role": "user", "content": QUESTION}]
    cases = [
        (chat, b'{"model": "rag", "messages": [', 400, "not valid JSON"),
        (chat, b"[1, 2]", 400, "JSON object"),
        (chat, {"model": "rag", "messages": []}, 400, "messages is empty"),
        (chat, {"model": "rag"}, 400, "messages is missing"),
        (chat, {"model": "nope", "messages": user}, 404, "'nope' does not exist"),
        (
            chat,
            {"model": "rag", "messages": [*user, {"role": "assistant", "content": "x"}]},
            400,
            "last message must be the user's question",
        ),
        (
            chat,
            {"model": "rag", "messages": [{"role": "user", "content": "   "}]},
            400,
            "last message",
        ),
        (chat, {"model": "rag", "messages": [{"role": "wizard", "content": "x"}]}, 400, "role"),
        (
            chat,
            {
                "model": "rag",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png"}}
                        ],
                    }
                ],
            },
            400,
            "'image_url' parts are not supported",
        ),
        (chat, {"model": "rag", "messages": user, "top_k": 0}, 400, "top_k"),
        (chat, {"model": "rag", "messages": user, "top_k": 999}, 400, "top-k 999 is out of range"),
        (
            chat,
            {"model": "rag", "messages": [{"role": "user", "content": "x" * 5000}]},
            400,
            "the limit is 2000",
        ),
        (chat, {"model": "rag", "messages": user, "temperature": 7}, 400, "temperature"),
        ("/v1/ask", {"question": ""}, 400, "empty question"),
        (
            "/v1/ask",
            {"question": QUESTION, "history": [{"role": "bot", "content": "x"}]},
            400,
            "history.0.role",
        ),
        ("/v1/jobs/job_nope", None, 404, "no job"),
        ("/v1/nothing", None, 404, "no such path"),
    ]
    for path, body, status, words in cases:
        if body is None:
            r = http.get(path)
        elif isinstance(body, bytes):
            r = http.post(path, content=body, headers={"content-type": "application/json"})
        else:
            r = http.post(path, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert words in error_of(r)["message"], (words, r.text)
    assert http.get("/healthz").status_code == 200
    assert http.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    assert server.alive()


def test_huge_bodies_get_413(http: httpx.Client, server: ServeProcess) -> None:
    huge = {"model": "rag", "messages": [{"role": "user", "content": "x" * 100_000}]}
    r = http.post("/v1/chat/completions", json=huge)
    assert r.status_code == 413 and "serve.max_body_kb" in error_of(r)["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"model": "rag", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}]}'

    r = http.post(
        "/v1/chat/completions", content=chunked(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "serve.max_body_kb" in error_of(r)["message"]
    assert http.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    assert server.alive()


def test_keyless_server_refuses_other_hosts_and_origins(http: httpx.Client) -> None:
    q = {"question": QUESTION}
    r = http.post("/v1/ask", json=q, headers={"host": "evil.example"})
    assert r.status_code == 403 and "loopback" in error_of(r)["message"]
    r = http.post("/v1/ask", json=q, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "serve.cors_origins" in error_of(r)["message"]
    # a form post from another site is what a browser sends without asking: refused too
    r = http.post(
        "/v1/documents",
        files={"file": ("x.md", ARTICLE)},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403
    ok = http.post("/v1/ask", json=q, headers={"origin": "http://localhost:3000"})
    assert (
        ok.status_code == 200
        and ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    )
    pre = http.options(
        "/v1/chat/completions",
        headers={
            "origin": "http://localhost:3000",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "http://localhost:3000"


# --------------------------------------------------------------------------- index states


def test_missing_index_is_503_until_an_upload_builds_it(tmp_path: Path) -> None:
    index = tmp_path / "new-index"
    with (
        ServeProcess(index, tmp_path / "serve.log") as s,
        httpx.Client(base_url=s.base_url, timeout=60) as http,
    ):
        h = http.get("/healthz")
        assert h.status_code == 503 and h.json()["status"] == "unavailable"
        assert str(index) in h.json()["error"]
        r = http.post(
            "/v1/chat/completions",
            json={"model": "rag", "messages": [{"role": "user", "content": QUESTION}]},
        )
        assert r.status_code == 503 and r.headers["retry-after"]
        err = error_of(r)
        assert err["code"] == "index_not_found" and "rag ingest" in err["message"]
        assert http.post("/v1/ask", json={"question": QUESTION}).status_code == 503
        job = wait_job(
            http, http.post("/v1/documents", files={"file": ("arden.md", ARTICLE)}).json()
        )
        assert job["status"] == "succeeded", job
        assert http.get("/healthz").status_code == 200
        a = http.post("/v1/ask", json={"question": "What did the harbour authority approve?"})
        assert a.status_code == 200 and "container terminal" in a.json()["answer"]


def test_no_keys_means_loopback_only(tmp_path: Path, bundled_index: Path) -> None:
    with ServeProcess(bundled_index, tmp_path / "serve.log", "--host", "0.0.0.0") as s:
        assert s.base_url.startswith("http://127.0.0.1:")
        assert "listening on 127.0.0.1 only, not 0.0.0.0" in s.log()
        assert httpx.get(s.url("/healthz"), timeout=30).status_code == 200
