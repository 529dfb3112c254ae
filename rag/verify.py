"""An LLM support checker for `rag.check`: "does this passage support this sentence?".

Optional (`check.verify_model`, `rag ask --verify-model`): any litellm model answers YES
or NO to `prompts/verify_support.txt`. Verdicts are cached in SQLite keyed by model,
prompt version, sentence and passage (the judge's cache, `rag.eval.judge.JudgeCache`),
so a repeated question costs no call. A reply that is neither YES nor NO, or a failed
call, gives no verdict: the offline score decides then.

What it does not do: pick passages or decide what to do with a verdict (`rag.check`).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from rag.config import CheckSettings, LLMSettings
from rag.errors import ModelError
from rag.prompts import Template, load_template
from rag.resources import default_index_root

log = logging.getLogger("rag.verify")

PROMPT = "verify_support.txt"
VARS = frozenset({"sentence", "passage"})
_ANSWER = re.compile(r"\b(yes|no)\b", re.I)


def template() -> Template:
    return load_template(PROMPT, VARS, VARS)


class LLMVerifier:
    def __init__(self, llm: LLMSettings, cache_path: Path) -> None:
        from rag.eval.judge import JudgeCache

        self.llm = llm
        self.cache = JudgeCache(cache_path)
        self.calls = 0
        self._lock = threading.Lock()

    def verify(self, sentence: str, passage: str) -> bool | None:
        from rag.eval.judge import JudgeCache
        from rag.llm import Call

        t = template()
        inputs = {"sentence": sentence, "passage": passage}
        key = JudgeCache.key(self.llm.model, t, inputs)
        hit = self.cache.get(key)
        if hit is not None:
            return bool(hit["supported"])
        call = Call([{"role": "user", "content": t.render(**inputs)}], self.llm, stream=False)
        try:
            reply = "".join(call)
        except ModelError as e:
            log.warning("verify model gave no verdict: %s", e)
            return None
        with self._lock:
            self.calls += 1
        m = _ANSWER.search(reply)
        if m is None:
            return None
        verdict = m.group(1).lower() == "yes"
        self.cache.put(key, self.llm.model, t, {"supported": verdict, "reason": reply[:200]})
        return verdict


_VERIFIERS: dict[Any, LLMVerifier] = {}
_LOCK = threading.Lock()


def make_verifier(check: CheckSettings, answer_llm: LLMSettings | None) -> LLMVerifier | None:
    """The verifier these settings ask for (one per model and cache file), or None."""
    if not check.verify_model:
        return None
    from rag.eval.judge import judge_settings

    base = answer_llm or LLMSettings()
    llm = judge_settings(base, check.verify_model, check.verify_api_base)
    llm = llm.model_copy(update={"max_tokens": 4})
    path = Path(check.verify_cache or default_index_root() / ".verify-cache.sqlite")
    key = (llm.model_dump_json(), str(path))
    with _LOCK:
        v = _VERIFIERS.get(key)
        if v is None:
            v = _VERIFIERS[key] = LLMVerifier(llm, path)
        return v
