"""Follow-up questions: turn "and what do critics say?" into a question that retrieves.

With an LLM configured, the model condenses the conversation and the follow-up into one
standalone question (`prompts/condense.txt`). With the offline answerer — or when the LLM
call fails — a deterministic rewrite is used: a question that looks like a follow-up
(it leans on the previous turn with "and", "what about", a pronoun, or has almost no
content words of its own) is searched together with the previous question.

What it does not do: answer. The answerer still sees the user's own question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from rag.config import OFFLINE_MODEL, LLMSettings
from rag.errors import RagError
from rag.text import terms

log = logging.getLogger("rag")

Turn = dict[str, str]

_LEANS_BACK = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|why not|and why|same for|more on|"
    r"tell me more|what else|anything else|who else|is that|was that|did they|does it|"
    r"do they|are they|were they)\b",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|him|his|she|her|there|the same)\b",
    re.I,
)
CONDENSE_VARS = frozenset({"history", "question"})


def last_user_question(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        if turn.get("role") == "user" and turn.get("content", "").strip():
            return turn["content"].strip()
    return None


def is_follow_up(question: str) -> bool:
    if _LEANS_BACK.search(question):
        return True
    content = terms(question)
    if len(content) <= 2 and _PRONOUN.search(question):
        return True
    return len(content) <= 1


def rewrite(question: str, history: Sequence[Turn]) -> str:
    """Deterministic: the follow-up plus the user's earlier questions back to the last
    one that stood on its own ("what about the women?" after "and what do critics say?"
    after "why did Russia lift the ban?" keeps all three), at most three of them."""
    if not is_follow_up(question):
        return question
    earlier: list[str] = []
    for turn in reversed(history):
        text = turn.get("content", "").strip() if turn.get("role") == "user" else ""
        if not text:
            continue
        earlier.append(text)
        if not is_follow_up(text) or len(earlier) == 3:
            break
    if not earlier:
        return question
    return f"{question.strip()} (context: {' '.join(reversed(earlier))})"


def condense(question: str, history: Sequence[Turn], llm: LLMSettings) -> str:
    """The standalone question to retrieve with."""
    if not history or last_user_question(history) is None:
        return question
    if llm.model == OFFLINE_MODEL:
        return rewrite(question, history)
    from rag.llm import Call, model_error
    from rag.prompts import load_template

    tpl = load_template("condense.txt", CONDENSE_VARS, CONDENSE_VARS)
    prompt = tpl.render(history=list(history)[-6:], question=question)
    messages = [{"role": "user", "content": prompt}]
    try:
        text = "".join(Call(messages, llm, stream=False, max_tokens=120, temperature=0.0))
    except Exception as e:  # the answer call will report a broken model; retrieval goes on
        log.warning(
            "condensing the follow-up failed: %s",
            e if isinstance(e, RagError) else model_error(llm, e),
        )
        return rewrite(question, history)
    first = text.strip().strip('"').strip().splitlines()[0].strip() if text.strip() else ""
    return first if 3 <= len(first) <= 500 else rewrite(question, history)
