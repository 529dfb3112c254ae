"""A scriptable, in-process fake of the OpenAI chat completions HTTP API.

The server is a real HTTP/1.1 server bound to ``127.0.0.1`` (stdlib only), so
client libraries (``openai``, ``litellm``, ``httpx`` ...) exercise their whole
network stack against it: connection pooling, timeouts, retries, SSE parsing.

Endpoints
---------
* ``POST /v1/chat/completions`` and ``POST /chat/completions`` --
  non-streaming JSON, or Server-Sent Events when ``"stream": true``
  (``data: {...}`` chunks terminated by ``data: [DONE]``; a final chunk with
  ``usage`` and empty ``choices`` when ``stream_options.include_usage`` is set,
  like the real API).
* ``GET /v1/models`` and ``GET /models``.

Anything else answers 404 with an OpenAI-style error body.

Scripting replies
-----------------
For every chat request the server picks a reply, in this order:

1. the next item of the queue filled with :meth:`FakeOpenAIServer.enqueue`;
2. otherwise the ``responder`` callable (``RecordedRequest -> str | Reply``);
3. otherwise it echoes the last user message (``"echo: <text>"``).

A queue item / responder result is either a plain ``str`` (the answer text) or
a :class:`Reply`, which can also carry a fault (see :class:`Fault`) and delays.

Recording
---------
Every request (chat or not) is appended to :attr:`FakeOpenAIServer.requests` as
a :class:`RecordedRequest` (method, path, lower-cased headers, parsed JSON).

Usage
-----
As a context manager::

    with FakeOpenAIServer() as server:
        server.enqueue("Paris")
        litellm.completion(model="openai/test-model", api_base=server.base_url,
                           api_key="sk-fake", messages=[...])
        assert server.requests[-1].messages[-1]["content"] == "..."

As a pytest fixture, registered as a plugin in ``conftest.py``
(``pytest_plugins = ["tests.openai_server"]`` or ``["openai_server"]``,
depending on how the tests folder is imported)::

    def test_x(openai_server: FakeOpenAIServer) -> None:
        openai_server.enqueue(Reply.rate_limited(retry_after=1), "ok")
"""

from __future__ import annotations

import collections
import enum
import itertools
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "FakeOpenAIServer",
    "Fault",
    "RecordedRequest",
    "Reply",
    "Responder",
    "openai_server",
]


class Fault(enum.Enum):
    """Failure modes a :class:`Reply` can inject.

    * ``RATE_LIMIT`` -- HTTP 429 with a ``Retry-After`` header
      (:attr:`Reply.retry_after`) and an OpenAI ``rate_limit_error`` body.
    * ``SERVER_ERROR`` -- HTTP 500 with an OpenAI ``server_error`` body.
    * ``HTTP_ERROR`` -- any status (:attr:`Reply.status`) with an OpenAI error
      body, e.g. 400, 401, 404, 503.
    * ``MALFORMED`` -- non-streaming: HTTP 200 ``application/json`` whose body
      is not valid JSON.  Streaming: after ``cut_after`` good content chunks
      one ``data: {not json`` event is sent, then the stream goes on normally
      to ``[DONE]``.
    * ``CUT`` -- streaming: after ``cut_after`` content chunks the TCP
      connection is closed abruptly (no ``[DONE]``, no terminating HTTP chunk).
      Non-streaming: the headers announce the full ``Content-Length`` but only
      half of the JSON body is sent before the connection is closed.
    * ``NO_DONE`` -- streaming: after ``cut_after`` content chunks the HTTP
      response ends *cleanly* (terminating chunk sent) but without a
      ``finish_reason`` chunk or ``data: [DONE]``.  Non-streaming: same as a
      normal answer.
    """

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    HTTP_ERROR = "http_error"
    MALFORMED = "malformed"
    CUT = "cut"
    NO_DONE = "no_done"


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the fake server.

    Attributes:
        text: Answer content. ``""`` is an empty answer; ``None`` sends
            ``"content": null`` (non-streaming) / no content deltas (streaming).
        fault: Optional failure mode, see :class:`Fault`.
        delay: Seconds to wait before sending the response headers (use it to
            trigger client timeouts). Interrupted when the server stops.
        chunk_delay: Seconds to wait before each streamed content chunk.
        chunk_size: Characters per streamed content chunk (``0`` = whole text
            in one chunk).
        status: HTTP status for ``Fault.HTTP_ERROR`` (also overrides the status
            of ``RATE_LIMIT``/``SERVER_ERROR`` if set to something else than 200).
        retry_after: Value of the ``Retry-After`` header for
            ``Fault.RATE_LIMIT`` (seconds; ``None`` omits the header).
        error_message: Message put in the OpenAI error body of error faults.
        error_type: ``error.type`` of the error body (default: derived from
            the status: ``rate_limit_error``, ``server_error`` for 5xx,
            ``invalid_request_error`` otherwise, as the real API does).
        error_code: ``error.code`` of the error body (e.g. ``"model_not_found"``,
            ``"invalid_api_key"``). Clients such as litellm map exceptions from
            these strings, not only from the status.
        cut_after: Number of content chunks sent before ``CUT``/``NO_DONE``/
            ``MALFORMED`` (streaming) take effect.
        finish_reason: ``finish_reason`` of the answer.
        usage: Overrides the computed ``usage`` object
            (``prompt_tokens``/``completion_tokens``/``total_tokens``).
        body: Non-streaming only: exact JSON object to return instead of the
            generated ``chat.completion`` (escape hatch for tool calls etc.).
        headers: Extra response headers.
    """

    text: str | None = "OK"
    fault: Fault | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 4
    status: int = 200
    retry_after: float | None = None
    error_message: str = "fake server error"
    error_type: str | None = None
    error_code: str | None = None
    cut_after: int = 1
    finish_reason: str = "stop"
    usage: Mapping[str, int] | None = None
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    # -- convenience constructors -------------------------------------------------
    @classmethod
    def rate_limited(
        cls, retry_after: float | None = 1, message: str = "Rate limit reached"
    ) -> Reply:
        """HTTP 429 with ``Retry-After: <retry_after>``."""
        return cls(fault=Fault.RATE_LIMIT, retry_after=retry_after, error_message=message)

    @classmethod
    def server_error(cls, message: str = "The server had an error") -> Reply:
        """HTTP 500 with an OpenAI error body."""
        return cls(fault=Fault.SERVER_ERROR, error_message=message)

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str = "fake server error",
        error_type: str | None = None,
        error_code: str | None = None,
    ) -> Reply:
        """Any HTTP error status with an OpenAI error body."""
        return cls(
            fault=Fault.HTTP_ERROR,
            status=status,
            error_message=message,
            error_type=error_type,
            error_code=error_code,
        )

    @classmethod
    def malformed(cls, text: str = "OK", cut_after: int = 1) -> Reply:
        """Invalid JSON body (non-streaming) or one invalid SSE chunk (streaming)."""
        return cls(text=text, fault=Fault.MALFORMED, cut_after=cut_after)

    @classmethod
    def cut(cls, text: str = "Hello world, this is cut", cut_after: int = 2) -> Reply:
        """Connection dropped mid-response (no ``[DONE]``)."""
        return cls(text=text, fault=Fault.CUT, cut_after=cut_after)

    @classmethod
    def no_done(cls, text: str = "Hello world, this ends early", cut_after: int = 2) -> Reply:
        """Stream that ends cleanly at HTTP level but without ``[DONE]``."""
        return cls(text=text, fault=Fault.NO_DONE, cut_after=cut_after)

    @classmethod
    def empty(cls) -> Reply:
        """An empty answer (``content == ""``)."""
        return cls(text="")

    @classmethod
    def delayed(cls, seconds: float, text: str = "OK") -> Reply:
        """A normal answer sent after ``seconds``."""
        return cls(text=text, delay=seconds)


@dataclass(frozen=True)
class RecordedRequest:
    """A request received by the fake server.

    Attributes:
        method: HTTP method.
        path: Request path (including any query string).
        headers: Request headers, keys lower-cased (e.g. ``"authorization"``).
        body: Raw request body.
        json: Parsed JSON body, or ``None`` if absent / not JSON.
        received_at: ``time.monotonic()`` when the request was read.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    json: Any
    received_at: float

    @property
    def model(self) -> str | None:
        """The ``model`` field of a JSON body."""
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``messages`` field of a JSON body (``[]`` if absent)."""
        messages = self.json.get("messages") if isinstance(self.json, dict) else None
        if isinstance(messages, list):
            return [m for m in messages if isinstance(m, dict)]
        return []

    @property
    def stream(self) -> bool:
        """Whether the client asked for a streamed answer."""
        return bool(isinstance(self.json, dict) and self.json.get("stream"))

    @property
    def api_key(self) -> str | None:
        """The bearer token of the ``Authorization`` header, if any."""
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None

    @property
    def last_user_text(self) -> str:
        """Text of the last ``user`` message (content parts joined)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""


Responder = Callable[[RecordedRequest], "str | Reply"]
"""Function deciding the reply to a chat request."""


def _content_text(content: Any) -> str:
    """Flatten an OpenAI message ``content`` (str or list of parts) to text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _count_tokens(text: str) -> int:
    """Deterministic fake tokenizer: whitespace-separated words."""
    return len(text.split())


def _echo(request: RecordedRequest) -> str:
    """Default responder: echo the last user message."""
    return f"echo: {request.last_user_text}"


class _Handler(BaseHTTPRequestHandler):
    """Request handler; all state lives on ``self.server.owner``."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    # Silence the default stderr access log.
    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # Without this every response written in several send() calls waits
        # for the client's delayed ACK (~40 ms on Linux) because of Nagle.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing -----------------------------------------------------------------
    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=parsed,
            received_at=time.monotonic(),
        )
        self.server.owner._record(request)
        return request

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self._send_bytes(status, data, "application/json", headers)

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error_body(
        self,
        status: int,
        message: str,
        err_type: str,
        headers: Mapping[str, str],
        code: str | None = None,
    ) -> None:
        payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
        self._send_json(status, payload, headers)

    def _write_chunk(self, data: bytes) -> None:
        """Write one HTTP/1.1 chunk (chunked transfer encoding)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write_event(self, payload: Any) -> None:
        self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _abort(self) -> None:
        """Close the connection abruptly (simulates a dropped connection)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes -------------------------------------------------------------------
    def do_GET(self) -> None:
        request = self._record()
        if request.path.rstrip("/") in ("/v1/models", "/models"):
            owner = self.server.owner
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in owner.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error_body(404, f"Unknown path {request.path}", "invalid_request_error", {})

    def do_POST(self) -> None:
        request = self._record()
        if request.path.split("?")[0].rstrip("/") not in (
            "/v1/chat/completions",
            "/chat/completions",
        ):
            self._send_error_body(404, f"Unknown path {request.path}", "invalid_request_error", {})
            return
        if not isinstance(request.json, dict):
            self._send_error_body(
                400, "Request body is not a JSON object", "invalid_request_error", {}
            )
            return
        owner = self.server.owner
        reply = owner._next_reply(request)
        if reply.delay and owner._stopping.wait(reply.delay):
            self._abort()
            return
        try:
            self._answer(request, reply)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (timeout) or dropped the connection.
            self.close_connection = True

    # -- answers ------------------------------------------------------------------
    def _answer(self, request: RecordedRequest, reply: Reply) -> None:
        headers = dict(reply.headers)
        fault = reply.fault
        if fault is Fault.RATE_LIMIT:
            if reply.retry_after is not None:
                headers["Retry-After"] = f"{reply.retry_after:g}"
            status = reply.status if reply.status != 200 else 429
        elif fault is Fault.SERVER_ERROR:
            status = reply.status if reply.status != 200 else 500
        elif fault is Fault.HTTP_ERROR:
            status = reply.status
        else:
            status = 0
        if status:
            default_type = (
                "rate_limit_error"
                if status == 429
                else "server_error"
                if status >= 500
                else "invalid_request_error"
            )
            err_type = reply.error_type or default_type
            self._send_error_body(status, reply.error_message, err_type, headers, reply.error_code)
            return
        if request.stream:
            self._answer_stream(request, reply, headers)
        else:
            self._answer_plain(request, reply, headers)

    def _answer_plain(
        self, request: RecordedRequest, reply: Reply, headers: dict[str, str]
    ) -> None:
        owner = self.server.owner
        if reply.body is not None:
            payload: Any = dict(reply.body)
        else:
            payload = {
                "id": owner._new_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.model or "unknown",
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": reply.text,
                            "refusal": None,
                        },
                        "logprobs": None,
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": _usage(request, reply),
            }
        data = json.dumps(payload).encode()
        if reply.fault is Fault.MALFORMED:
            self._send_bytes(
                200, data[: len(data) // 2] + b"<<not json", "application/json", headers
            )
        elif reply.fault is Fault.CUT:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._abort()
        else:
            self._send_bytes(200, data, "application/json", headers)

    def _answer_stream(
        self, request: RecordedRequest, reply: Reply, headers: dict[str, str]
    ) -> None:
        owner = self.server.owner
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

        base = {
            "id": owner._new_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.model or "unknown",
            "system_fingerprint": None,
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            return {**base, "choices": [choice]}

        text = reply.text or ""
        size = reply.chunk_size if reply.chunk_size > 0 else max(len(text), 1)
        pieces = [text[i : i + size] for i in range(0, len(text), size)]

        self._write_event(chunk({"role": "assistant", "content": "", "refusal": None}))
        for index, piece in enumerate(pieces):
            if index == reply.cut_after:
                if reply.fault is Fault.CUT:
                    self._abort()
                    return
                if reply.fault is Fault.NO_DONE:
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if reply.fault is Fault.MALFORMED:
                    self._write_chunk(b'data: {"id": "broken", "choices": [\n\n')
            if reply.chunk_delay and owner._stopping.wait(reply.chunk_delay):
                self._abort()
                return
            self._write_event(chunk({"content": piece}))
        if reply.fault is Fault.CUT:  # fewer pieces than cut_after: still cut
            self._abort()
            return
        if reply.fault is Fault.NO_DONE:
            self.wfile.write(b"0\r\n\r\n")
            return
        if reply.fault is Fault.MALFORMED and len(pieces) <= reply.cut_after:
            self._write_chunk(b'data: {"id": "broken", "choices": [\n\n')
        self._write_event(chunk({}, reply.finish_reason))
        stream_options = request.json.get("stream_options") or {}
        if isinstance(stream_options, dict) and stream_options.get("include_usage"):
            self._write_event({**base, "choices": [], "usage": _usage(request, reply)})
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")


def _usage(request: RecordedRequest, reply: Reply) -> dict[str, int]:
    """Usage block: ``reply.usage`` or a word count of prompt and answer."""
    if reply.usage is not None:
        usage = dict(reply.usage)
        usage.setdefault(
            "total_tokens",
            usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0),
        )
        return usage
    prompt = sum(_count_tokens(_content_text(m.get("content"))) for m in request.messages)
    completion = _count_tokens(reply.text or "")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (timeouts, pool resets); keep other errors."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        self.owner._record_error(exc)
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """Scriptable fake OpenAI server running in a background thread.

    Args:
        port: TCP port on 127.0.0.1; ``0`` (default) picks a free port, see
            :attr:`port` once started.
        responder: Optional function ``RecordedRequest -> str | Reply`` used when
            the queue is empty (default: echo the last user message).
        models: Model ids listed by ``GET /v1/models``.
    """

    def __init__(
        self,
        port: int = 0,
        responder: Responder | None = None,
        models: Sequence[str] = ("test-model",),
    ) -> None:
        self._requested_port = port
        self.responder: Responder | None = responder
        self.models: list[str] = list(models)
        self._queue: collections.deque[str | Reply] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> Self:
        """Bind and start serving in a daemon thread. Returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", self._requested_port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeOpenAIServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a delay
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses ----------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound TCP port (only valid while running)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- scripting ----------------------------------------------------------------
    def enqueue(self, *replies: str | Reply) -> None:
        """Append replies used (first in, first out) by the next chat requests."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Number of queued replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued replies, recorded requests and errors (responder is kept)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._errors.clear()

    # -- inspection ---------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of all requests received so far (any path)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Snapshot of the chat completion requests received so far."""
        return [r for r in self.requests if r.method == "POST" and "chat/completions" in r.path]

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request (raises ``IndexError`` if none)."""
        with self._lock:
            return self._requests[-1]

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised inside the server (should stay empty)."""
        with self._lock:
            return list(self._errors)

    # -- internals (called from handler threads) ----------------------------------
    def _record_error(self, exc: BaseException | None) -> None:
        if exc is not None:
            with self._lock:
                self._errors.append(exc)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            item: str | Reply | None = self._queue.popleft() if self._queue else None
        if item is None:
            item = (self.responder or _echo)(request)
        return Reply(text=item) if isinstance(item, str) else item

    def _new_id(self) -> str:
        return f"chatcmpl-fake-{next(self._ids)}"


try:
    import pytest
except ImportError:  # pragma: no cover - the module is usable without pytest
    pass
else:

    @pytest.fixture
    def openai_server() -> Iterator[FakeOpenAIServer]:
        """A running :class:`FakeOpenAIServer` on a free port, stopped after the test."""
        with FakeOpenAIServer() as server:
            yield server
