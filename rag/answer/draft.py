"""What the offline answerer produces: claims, each citing the passages it comes from.

A `Claim` is one sentence of the answer. `passages` are the numbers (1-based, as shown)
of the passages it rests on and `quotes` the spans of the sentences it takes from them.
`Draft.text()` renders the claims with `[n]` markers before the final punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ABSTAIN_PREFIX = "The indexed articles don't say"


@dataclass(slots=True)
class Claim:
    text: str  # the sentence, without markers
    passages: list[int] = field(default_factory=list)
    quotes: list[tuple[int, int, int]] = field(default_factory=list)  # (passage, start, end)

    def render(self) -> str:
        marks = "".join(f"[{p}]" for p in dict.fromkeys(self.passages))
        out = cite_sentence(self.text, marks) if marks else self.text
        return _end(out)


@dataclass(slots=True)
class Draft:
    claims: list[Claim]
    abstained: bool
    kind: str = ""

    def text(self) -> str:
        return " ".join(c.render() for c in self.claims)

    def quotes(self) -> dict[int, list[tuple[int, int]]]:
        out: dict[int, list[tuple[int, int]]] = {}
        for c in self.claims:
            for p, s, e in c.quotes:
                spans = out.setdefault(p, [])
                if (s, e) not in spans:
                    spans.append((s, e))
        return out


def abstention(question: str) -> str:
    q = " ".join(question.split())
    if len(q) > 200:  # a long question is not repeated whole
        q = q[:200].rsplit(" ", 1)[0] + " …"
    return f"{ABSTAIN_PREFIX} — none of the passages I found answers “{q}”"


def cite_sentence(sentence: str, marks: str) -> str:
    """`sentence` with `marks` ("[1][2]") before its final punctuation."""
    s = sentence.rstrip()
    if s.endswith(";"):  # a clause of a longer sentence: "145 people [1]; the other ..."
        return f"{s[:-1]} {marks};"
    m = re.search(r"([.!?…]+)([”’\"')\]]*)$", s)
    if m and not m.group(2):
        return f"{s[: m.start()]} {marks}{m.group(1)}"
    if m:  # a quotation closes the sentence: the marker follows it
        return f"{s} {marks}"
    if s.endswith(("”", '"', "’", ")")):
        return f"{s} {marks}"
    return f"{s} {marks}."


def _end(s: str) -> str:
    """A sentence ends with its punctuation (after a closing quote or a marker: "…” [1].")."""
    s = s.rstrip()
    if s.endswith((";", ":")) or re.search(r"[.!?…]$", s):
        return s
    if re.search(r"[.!?][”\"’)]+(?:\s?\[\d+\])*$", s):
        return s
    return s + "."
