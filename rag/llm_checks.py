"""What can be known about an LLM before calling it, and refused connections after.

- `provider`: the litellm provider and endpoint of a model name; an unknown provider is
  a one-line `ModelError` (litellm's own message is several lines and ends in a link).
- `missing_key`: the API-key variables the provider needs that are not set (litellm's
  `validate_environment` knows them), when no key is configured either.
- `server_listens`: for an endpoint on this machine (Ollama's localhost:11434, a
  llama.cpp server), whether anything accepts a TCP connection there.
- `refused`: whether an exception comes from a refused connection (nothing listens:
  asking again a second later gets the same answer, so it is not retried).

None of these sends a request to a model. What it does not do: call the model, retry
or build prompts (see `rag.llm`).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Any
from urllib.parse import urlparse

from rag.config import LLMSettings
from rag.errors import ModelError

PROVIDERS_URL = "https://docs.litellm.ai/docs/providers"
# Credentials that can come from elsewhere than an environment variable (AWS profiles,
# Google application-default credentials) are not demanded: only API keys and tokens.
_KEY_SUFFIXES = ("_API_KEY", "_API_TOKEN", "_TOKEN")
# where a provider listens when no api_base is given (litellm leaves some of them None)
_DEFAULT_BASES = {"ollama": "http://localhost:11434", "ollama_chat": "http://localhost:11434"}


def provider(litellm: Any, llm: LLMSettings) -> tuple[str, str | None]:
    """(provider, endpoint) of the model; an unknown provider fails at once."""
    try:
        _, name, _, base = litellm.get_llm_provider(llm.model, api_base=llm.api_base)
    except Exception:
        prefix, slash, _ = llm.model.partition("/")
        what = f"no provider {prefix!r}" if slash else "no provider for this name"
        raise ModelError(
            f"model {llm.model}: litellm knows {what}; write PROVIDER/MODEL, e.g. "
            f"openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama/llama3 "
            f"(all providers: {PROVIDERS_URL}), or use the model `offline`"
        ) from None
    return str(name), llm.api_base or base or _DEFAULT_BASES.get(str(name))


def missing_key(litellm: Any, llm: LLMSettings, kwargs: dict[str, Any]) -> list[str]:
    """API-key variables the model needs and the environment lacks ([] when a key is
    configured, or when the provider needs none)."""
    if kwargs.get("api_key"):
        return []
    try:
        env = litellm.validate_environment(model=llm.model, api_base=kwargs.get("api_base"))
    except Exception:  # litellm cannot tell: let the call find out
        return []
    return [v for v in env.get("missing_keys") or [] if str(v).endswith(_KEY_SUFFIXES)]


# The one key variable each of these providers needs (what litellm's validate_environment
# asks for), so a missing key is known before litellm is imported (3-10 s): `rag ask
# --model anthropic/...` without ANTHROPIC_API_KEY fails at once. Other providers, and
# any model with its own endpoint, are left to `missing_key`.
KNOWN_KEYS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "cohere": "COHERE_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "xai": "XAI_API_KEY",
    "cerebras": "CEREBRAS_API_KEY",
}


def known_missing_key(llm: LLMSettings, kwargs: dict[str, Any]) -> list[str]:
    """The key variable of a PROVIDER/MODEL name from `KNOWN_KEYS` when it is not set and
    no key or endpoint is configured, without litellm ([] otherwise)."""
    if kwargs.get("api_key") or kwargs.get("api_base"):
        return []
    prefix, slash, _ = llm.model.partition("/")
    var = KNOWN_KEYS.get(prefix) if slash else None
    return [var] if var and var not in os.environ else []


def missing_key_error(llm: LLMSettings, names: list[str]) -> ModelError:
    need = " or ".join(names)
    return ModelError(
        f"model {llm.model} needs the API key {need}, which is not set; export "
        f"{names[0]}=... or set RAG_LLM__API_KEY, or use the model `offline`"
    )


def is_local(base: str | None) -> bool:
    """True when the endpoint is on this machine (loopback address or localhost)."""
    host = urlparse(base or "").hostname
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_listens(base: str, timeout: float = 1.0) -> bool:
    """False when a TCP connection to the endpoint is refused (nothing listens there).
    Any other outcome (accepted, timed out, unreachable) is left to the call."""
    p = urlparse(base)
    port = p.port or (443 if p.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(p.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return True
    refused = False
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as s:
            s.settimeout(timeout)
            try:
                s.connect(addr)
                return True
            except ConnectionRefusedError:
                refused = True
            except OSError:
                return True
    return not refused


def refused(exc: BaseException) -> bool:
    """True when the exception (or one it was raised from) is a refused connection."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return True
        text = str(e)
        if "Connection refused" in text or f"[Errno {errno.ECONNREFUSED}]" in text:
            return True
        e = e.__cause__ or e.__context__
    return False


def no_server_error(llm: LLMSettings, base: str | None) -> ModelError:
    where = base or "the provider's endpoint"
    hint = "`ollama serve`" if llm.model.startswith("ollama") else "the server"
    return ModelError(
        f"model {llm.model}: no server at {where} (connection refused); start {hint} "
        "or point RAG_LLM__API_BASE at a running one"
    )
