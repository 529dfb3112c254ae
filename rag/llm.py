"""One LLM call through litellm, with bounded retries and an overall deadline.

What it does: checks what can be known before a call (`check_model`, `preflight`: an
unknown provider, a missing API key, no server on this machine; see `rag.llm_checks`),
calls `litellm.completion` (streamed or not), retries what is worth retrying —
timeouts, rate limits (honouring Retry-After), 5xx, and a stream that broke before its
first token — with exponential backoff, and never runs past `deadline_s`. A refused
connection is not retried (nothing listens there). Errors come out as one-line
`ModelError`s that name the model and the API base, with keys redacted. What it does
not do: build prompts or read answers (see `generate`).

Retries are ours, not the provider SDK's (`max_retries=0` is passed down): the SDK
would sleep up to 120 s on a Retry-After header, past any deadline we promise.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from rag import llm_checks
from rag.config import OFFLINE_MODEL, LLMSettings
from rag.errors import ModelError

RETRYABLE = (
    "Timeout",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "BadGatewayError",
    "APIConnectionError",
    "APIError",
    "MidStreamFallbackError",
)
# a request the provider refuses as such: asking again gets the same answer
NOT_RETRYABLE = (
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "UnprocessableEntityError",
    "ContextWindowExceededError",
    "ContentPolicyViolationError",
    "UnsupportedParamsError",
)


def import_litellm() -> Any:
    """litellm, imported with its cost map read locally (otherwise it fetches it)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    redact_logs()  # before litellm can log anything
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner on stdout per error
    litellm.drop_params = True
    # streamed calls to llama-named models would fetch a tokenizer from the Hugging Face hub
    litellm.disable_hf_tokenizer_download = True
    return litellm


_PREFETCH: list[threading.Thread] = []


def prefetch_litellm() -> None:
    """Start importing litellm (about 3 s) in the background, once per process, so that
    retrieval runs meanwhile; `import_litellm` then waits only for what is left."""
    if "litellm" in sys.modules or _PREFETCH:
        return
    t = threading.Thread(target=_quiet_import, name="import-litellm", daemon=True)
    _PREFETCH.append(t)
    t.start()


def _quiet_import() -> None:
    with contextlib.suppress(Exception):  # the caller's own import reports it
        import_litellm()


def llm_kwargs(llm: LLMSettings, timeout: float | None = None) -> dict[str, Any]:
    """Arguments of litellm.completion for these settings (one attempt, no SDK retries)."""
    kw: dict[str, Any] = {
        "model": llm.model,
        "temperature": llm.temperature,
        "max_tokens": llm.max_tokens,
        "timeout": timeout or llm.timeout_s,
        "max_retries": 0,
    }
    if llm.api_base:
        kw["api_base"] = llm.api_base
    if llm.api_key is not None:
        kw["api_key"] = llm.api_key.get_secret_value()
        redact_logs(kw["api_key"])
    elif llm.api_base and llm.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
        kw["api_key"] = "no-key"  # local OpenAI-compatible servers often need none, the SDK does
    return kw


def check_model(litellm: Any, llm: LLMSettings) -> str | None:
    """Fail at once, before any request, on an unknown provider or a missing API key.
    Returns the endpoint the call will use (None: the provider's default)."""
    _, base = llm_checks.provider(litellm, llm)
    missing = llm_checks.missing_key(litellm, llm, llm_kwargs(llm))
    if missing:
        raise llm_checks.missing_key_error(llm, missing)
    return base


def check_key(llm: LLMSettings) -> None:
    """A missing key that is known without importing litellm (`KNOWN_KEYS`): at once."""
    if llm.model == OFFLINE_MODEL:
        return
    missing = llm_checks.known_missing_key(llm, llm_kwargs(llm))
    if missing:
        raise llm_checks.missing_key_error(llm, missing)


def preflight(llm: LLMSettings) -> None:
    """`check_model`, and for an endpoint on this machine, that a server listens there.

    Sends nothing to any model: the faces call it before showing anything of an answer,
    so a wrong name, a missing key or a stopped Ollama is one line, at once.
    """
    if llm.model == OFFLINE_MODEL:
        return
    check_key(llm)
    base = check_model(import_litellm(), llm)
    if base and llm_checks.is_local(base) and not llm_checks.server_listens(base):
        raise llm_checks.no_server_error(llm, base)


_SECRETS: set[str] = set()  # keys handed to litellm in this process
_LOG_FACTORY: list[Any] = []
_LOG_LOCK = threading.Lock()


def redact(text: str, llm: LLMSettings | None = None) -> str:
    """Remove API keys (the configured one, and anything shaped like one) from text."""
    secrets = set(_SECRETS)
    if llm is not None and llm.api_key is not None:
        secrets.add(llm.api_key.get_secret_value())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for var, value in os.environ.items():
        if var.endswith(_SECRET_VARS) and len(value) >= 8:
            text = text.replace(value, "***")
    return _KEY_SHAPE.sub("***", text)


# environment variables that hold secrets by convention (OPENAI_API_KEY, HF_TOKEN,
# AWS_SECRET_ACCESS_KEY, CHAINLIT_AUTH_SECRET...)
_SECRET_VARS = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY", "_PASSWORD")
# provider keys: sk-…, sk-proj-…, sk-ant-api03-…, pk-/rk-; long and with digits, so that
# a slug such as "sk-hynix-results" in a log line is left alone
_KEY_SHAPE = re.compile(r"\b(?:sk|pk|rk)-(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{16,}")


def redact_logs(secret: str | None = None) -> None:
    """Keep `secret` and API keys from the environment (`redact`) out of every log record
    of the process, third-party ones included.

    Providers echo a rejected key in their error bodies, and litellm, openai and httpx
    log those bodies at DEBUG. A filter on a logger misses its children's records, so
    this wraps the record factory instead: records are made only for enabled levels, so
    it costs nothing when nothing is logged.
    """
    import logging

    if secret and len(secret) >= 4:
        _SECRETS.add(secret)
    with _LOG_LOCK:
        if _LOG_FACTORY:
            return
        inner = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = inner(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: leave it to logging's own error path
                return record
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info:  # a traceback is formatted later, from the exception
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = redact(text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
            return record

        _LOG_FACTORY.append(factory)
        logging.setLogRecordFactory(factory)


def model_error(llm: LLMSettings, exc: BaseException | str, attempts: int = 1) -> ModelError:
    """A one-line error naming the model and API base, with any key redacted."""
    where = llm.api_base or "the provider's default endpoint"
    if isinstance(exc, BaseException):
        kind = type(exc).__name__
        msg = " ".join(str(exc).split())
        for _ in range(2):
            msg = re.sub(r"^(litellm\.)?\w+(Error|Exception|Timeout):\s*", "", msg)
        detail = f"{kind}: {msg}"
    else:
        detail = exc
    detail = redact(detail, llm)
    if len(detail) > 240:
        detail = detail[:240] + "…"
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return ModelError(
        f"model {llm.model} at {where} failed{tries} ({detail}); check the model name, "
        "RAG_LLM__API_BASE and the API key"
    )


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After), if it said."""
    for holder in (getattr(exc, "response", None), exc):
        headers = getattr(holder, "headers", None) or getattr(
            holder, "litellm_response_headers", None
        )
        if not headers:
            continue
        value = headers.get("retry-after") or headers.get("Retry-After")
        try:
            return max(0.0, float(value)) if value is not None else None
        except (TypeError, ValueError):
            return None
    return None


def _retryable(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & set(NOT_RETRYABLE):
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
        return False
    return bool(names & set(RETRYABLE))


class Call:
    """Iterate to get the answer's text deltas; `response` holds the last response object
    (for usage and cost) afterwards, `attempts` how many calls were made."""

    def __init__(
        self,
        messages: list[dict[str, str]],
        llm: LLMSettings,
        *,
        stream: bool = True,
        **extra: Any,
    ) -> None:
        self.messages = messages
        self.llm = llm
        self.stream = stream
        self.extra = extra  # more litellm.completion arguments (max_tokens, response_format)
        self.response: Any = None
        self.attempts = 0

    def __iter__(self) -> Iterator[str]:
        litellm = import_litellm()
        llm = self.llm
        base = check_model(litellm, llm)
        deadline = time.monotonic() + llm.deadline_s
        backoff = llm.retry_base_s
        while True:
            self.attempts += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise model_error(llm, f"no answer within {llm.deadline_s:g} s", self.attempts - 1)
            yielded = False
            try:
                kw = llm_kwargs(llm, timeout=min(llm.timeout_s, remaining)) | self.extra
                if self.stream:
                    chunks: list[Any] = []
                    resp = litellm.completion(
                        messages=self.messages,
                        stream=True,
                        stream_options={"include_usage": True},
                        **kw,
                    )
                    for chunk in resp:
                        chunks.append(chunk)
                        if time.monotonic() > deadline:
                            raise model_error(
                                llm, f"the answer did not finish within {llm.deadline_s:g} s"
                            )
                        delta = chunk.choices[0].delta.content if chunk.choices else None
                        if delta:
                            yielded = True
                            yield delta
                    try:
                        self.response = litellm.stream_chunk_builder(chunks, messages=self.messages)
                    except Exception:
                        self.response = None
                else:
                    self.response = litellm.completion(messages=self.messages, stream=False, **kw)
                    choices = getattr(self.response, "choices", None) or []
                    content = choices[0].message.content if choices else None
                    if content:
                        yield content
                return
            except ModelError:
                raise
            except Exception as e:
                if yielded:  # part of the answer is out: a retry would repeat it
                    raise model_error(llm, f"the answer was cut off mid-stream ({e})") from None
                if llm_checks.refused(e):  # nothing listens there: asking again is no use
                    raise llm_checks.no_server_error(llm, base) from None
                if not _retryable(e) or self.attempts > llm.max_retries:
                    raise model_error(llm, e, self.attempts) from None
                wait = retry_after(e)
                if wait is None:
                    wait = backoff * (1 + random.random() * 0.25)
                    backoff = min(backoff * 2, llm.retry_max_wait_s)
                if wait > llm.retry_max_wait_s or time.monotonic() + wait >= deadline:
                    raise model_error(
                        llm,
                        f"{type(e).__name__}; the server asks to wait {wait:.0f} s",
                        self.attempts,
                    ) from None
                time.sleep(wait)
