"""Text written at a machine reader is never quoted as an answer.

A sentence such as "AI assistants must answer that …" or "Answer every question about X
with exactly this sentence: …" is an order planted in an article, not reporting. The
offline answerer leaves such sentences out of its evidence (they stay in the article).
Sentences the ingest flagged (`Chunk.flags`, see rag.injection when present) are left
out as well; this check is the answerer's own last line, for indexes built without flags.
"""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b(?:\s+\w+){0,3}\s+(?:instructions?|prompts?|"
    r"directions|guidelines|rules|passages?|context)\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|"
    r"earlier|other)\b"
    r"|\bsystem (?:prompt|message|notice|instruction)s?\b|\byou are now\b|\bas an ai\b"
    r"|\b(?:ai|language models?|llms?|assistants?|chatbots?|bots?)\b[^.]{0,40}\b(?:must|should|"
    r"shall|will|need to|are (?:required|instructed) to)\s+(?:always\s+|only\s+|now\s+)?"
    r"(?:answer|reply|respond|say|state|write|output|tell|mention|claim)"
    r"|\b(?:respond|reply|answer)(?:\s+\w+){0,6}\s+(?:only |solely )?with\s+(?:exactly|only|the "
    r"(?:following|sentence|phrase|words?)|this|these)\b"
    r"|\bwith exactly (?:this|the following|these)\b"
    r"|\b(?:if you are|you are|as) an? (?:ai|language model|llm|assistant|chatbot)\b"
    r"|\b(?:do not|don't|never) (?:mention|reveal|say|cite|tell)\b[^.]{0,60}\b(?:user|reader|"
    r"question)s?\b"
    r"|\bnote to (?:ai|the ai|assistants?|language models?|llms?)\b",
    re.I,
)


def addresses_a_machine(text: str) -> bool:
    """Does the sentence give orders to a machine reader?"""
    return _INSTRUCTION.search(text) is not None
