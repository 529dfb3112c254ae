"""An LLM judge for `rag eval --judge MODEL`: answer correctness and citation support.

Two questions, each answered by the judge model as one JSON object:
- correctness (`prompts/judge_correct.txt`): does the candidate answer give the gold
  answer? An exact match decides without a call; abstentions and unanswerable items are
  decided by rule (see `runner`), never by the judge.
- support (`prompts/judge_support.txt`): does the cited passage support the sentence
  that cites it? One call per (sentence, passage) pair.

Calls go through litellm (`rag.llm.Call`: retries, deadline, redacted errors) with its own
retries (`num_retries`) plus one more call when the reply is not the JSON asked for.
Verdicts are cached in SQLite keyed by (model, prompt name and version, inputs), so a
second run over the same answers makes no calls. The judge is thread-safe: the runner
calls it from a bounded pool of workers.

What it does not do: decide how verdicts are aggregated (the report does).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.config import LLMSettings
from rag.errors import InputError, ModelError
from rag.prompts import Template, load_template

CORRECT_PROMPT = "judge_correct.txt"
SUPPORT_PROMPT = "judge_support.txt"
CORRECT_VARS = frozenset({"question", "answers", "answer"})
SUPPORT_VARS = frozenset({"sentence", "passage"})
MAX_TOKENS = 200


def correct_template() -> Template:
    return load_template(CORRECT_PROMPT, CORRECT_VARS, CORRECT_VARS)


def support_template() -> Template:
    return load_template(SUPPORT_PROMPT, SUPPORT_VARS, SUPPORT_VARS)


# --------------------------------------------------------------------------- cache


class JudgeCache:
    """Verdicts on disk: one SQLite table, safe to share between threads of a process."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, model TEXT NOT NULL,"
                " prompt TEXT NOT NULL, version TEXT NOT NULL, verdict TEXT NOT NULL,"
                " created REAL NOT NULL)"
            )
            self._db.commit()
        except sqlite3.Error as e:
            raise InputError(
                f"judge cache {self.path} is unusable ({e}); delete it or pick another path"
            ) from None
        self._lock = threading.Lock()

    @staticmethod
    def key(model: str, template: Template, inputs: dict[str, Any]) -> str:
        payload = json.dumps(
            [model, template.name, template.version, inputs], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, model: str, template: Template, verdict: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, template.name, template.version, json.dumps(verdict), time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --------------------------------------------------------------------------- judge


@dataclass
class JudgeStats:
    calls: int = 0  # requests sent (retries on bad JSON included)
    cached: int = 0  # verdicts served from the cache
    unparsable: int = 0  # verdicts given up after the retry
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_usage(self, prompt: int | None, completion: int | None, cost: float | None) -> None:
        with self._lock:
            self.calls += 1
            if prompt is not None:
                self.prompt_tokens = (self.prompt_tokens or 0) + prompt
            if completion is not None:
                self.completion_tokens = (self.completion_tokens or 0) + completion
            if cost is not None:
                self.cost_usd = (self.cost_usd or 0.0) + cost

    def count(self, attr: str) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached": self.cached,
            "unparsable": self.unparsable,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
        }


Parse = Callable[[dict[str, Any]], dict[str, Any] | None]


class Judge:
    """Asks `llm.model` for verdicts, through the cache."""

    def __init__(self, llm: LLMSettings, cache: JudgeCache) -> None:
        self.llm = llm
        self.cache = cache
        self.stats = JudgeStats()
        self._litellm: Any = None
        self._import_lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.llm.model

    def correctness(
        self, question: str, answers: Sequence[str], answer: str
    ) -> dict[str, Any] | None:
        """{"correct": bool, "reason": str}, or None when the judge gave no usable verdict."""
        return self._verdict(
            correct_template(),
            {"question": question, "answers": list(answers), "answer": answer},
            lambda d: _bool_field(d, "correct"),
        )

    def support(self, sentence: str, passage: str) -> dict[str, Any] | None:
        """{"supported": bool, "reason": str}, or None when the judge gave no usable verdict."""
        return self._verdict(
            support_template(),
            {"sentence": sentence, "passage": passage},
            lambda d: _bool_field(d, "supported"),
        )

    # -- internals
    def _verdict(self, template: Template, inputs: dict[str, Any], parse: Parse) -> Any:
        key = JudgeCache.key(self.model, template, inputs)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.count("cached")
            return hit
        prompt = template.render(**inputs)
        for _ in range(2):  # one more call when the reply is not the JSON asked for
            obj = _json_object(self._complete(prompt))
            verdict = parse(obj) if obj is not None else None
            if verdict is not None:
                self.cache.put(key, self.model, template, verdict)
                return verdict
        self.stats.count("unparsable")
        return None

    def _lib(self) -> Any:
        with self._import_lock:
            if self._litellm is None:
                from rag.llm import import_litellm

                self._litellm = import_litellm()
        return self._litellm

    def _complete(self, prompt: str) -> str:
        from rag.llm import Call

        litellm = self._lib()
        call = Call(
            [{"role": "user", "content": prompt}],
            self.llm,
            stream=False,
            max_tokens=MAX_TOKENS,
            response_format={"type": "json_object"},
        )
        try:
            text = "".join(call)
        except ModelError as e:
            raise ModelError(f"judge: {e}") from None
        resp = call.response
        u = getattr(resp, "usage", None)
        cost = None
        try:
            cost = float(litellm.completion_cost(completion_response=resp))
        except Exception:  # no price known for this model
            cost = None
        self.stats.add_usage(
            getattr(u, "prompt_tokens", None), getattr(u, "completion_tokens", None), cost
        )
        return text


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a reply (also inside a ``` fence or after some words)."""
    text = text.strip()
    candidates = [text]
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        candidates.append(m.group(0))
    for c in candidates:
        try:
            obj = json.loads(c)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _bool_field(d: dict[str, Any], name: str) -> dict[str, Any] | None:
    v = d.get(name)
    if isinstance(v, str) and v.strip().lower() in ("true", "yes", "false", "no"):
        v = v.strip().lower() in ("true", "yes")
    if not isinstance(v, bool):
        return None
    reason = d.get("reason")
    return {name: v, "reason": str(reason)[:500] if reason is not None else ""}


def judge_settings(
    answer_llm: LLMSettings, judge_model: str, api_base: str | None = None
) -> LLMSettings:
    """LLM settings of the judge: temperature 0, the answerer's deadline and retries.

    The answerer's API base and key are reused only when the judge uses the same provider
    (the part of the model name before '/'), else the provider's defaults apply.
    """
    same = judge_model.split("/", 1)[0] == answer_llm.model.split("/", 1)[0]
    return LLMSettings(
        model=judge_model,
        api_base=api_base or (answer_llm.api_base if same else None),
        api_key=answer_llm.api_key if (same or api_base) else None,
        temperature=0.0,
        max_tokens=MAX_TOKENS,
        timeout_s=answer_llm.timeout_s,
        max_retries=answer_llm.max_retries,
    )
