"""Citation markers: parse, validate and renumber `[n]` in answer text, also while streaming.

An answerer sees passages numbered 1..k and cites them as `[n]` (also `[1, 2]` or
`[1-3]`). Before the user sees the text, markers are expanded to one `[n]` each, markers
that match no shown passage are removed, and the remaining ones are renumbered in order
of first appearance (so the Sources list reads 1, 2, 3). `MarkerStream` does the same
on a stream of text deltas without ever emitting a half marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MARKER = re.compile(r"\s?\[(\d{1,3}(?:\s*(?:,|;|-|–)\s*\d{1,3})*)\]")
_PARTIAL = re.compile(r"\[[\d\s,;\-–]*$")
_SENTENCE_END = re.compile(r"[.!?][\"”’)]*(?:\s*\[\d{1,3}\])*(?=\s+[A-Z\"“‘(])")


def _expand(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            if 0 < b - a < 20:
                out.extend(range(a, b + 1))
                continue
            out.extend([a, b])
        elif part.isdigit():
            out.append(int(part))
    return out


def markers(text: str) -> list[int]:
    """Every cited number in order, groups expanded ("[1, 3]" → 1, 3)."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        out.extend(_expand(m.group(1)))
    return out


@dataclass
class Renumbering:
    """Maps passage numbers (as shown to the answerer) to display numbers (1, 2, ...)."""

    valid: set[int]
    order: list[int] = field(default_factory=list)  # passage numbers in order of first use
    dropped: list[int] = field(default_factory=list)

    def display(self, passage: int) -> int | None:
        if passage not in self.valid:
            self.dropped.append(passage)
            return None
        if passage not in self.order:
            self.order.append(passage)
        return self.order.index(passage) + 1

    def rewrite(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            lead = " " if m.group(0).startswith((" ", "\n", "\t")) else ""
            nums: list[int] = []
            for p in _expand(m.group(1)):
                d = self.display(p)
                if d is not None and d not in nums:
                    nums.append(d)
            if not nums:
                return ""
            return lead + "".join(f"[{d}]" for d in sorted(nums))

        return MARKER.sub(sub, text)


def clean(text: str, valid: Iterable[int]) -> tuple[str, Renumbering]:
    """Remove invalid markers and renumber the rest; returns the text and the mapping."""
    r = Renumbering(set(valid))
    out = r.rewrite(text)
    return _tidy(out), r


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # space left before punctuation
    return re.sub(r"[ \t]{2,}", " ", text).strip()


class MarkerStream:
    """Cleans markers in a stream of deltas; holds back text that may be half a marker."""

    def __init__(self, valid: Iterable[int]) -> None:
        self.map = Renumbering(set(valid))
        self._pending = ""
        self.raw = ""

    def feed(self, delta: str) -> str:
        self.raw += delta
        buf = self._pending + delta
        m = _PARTIAL.search(buf)
        # a trailing "[12" may be completed by the next delta; a trailing space may lead one
        cut = m.start() if m and len(buf) - m.start() < 24 else len(buf)
        while cut > 0 and buf[cut - 1] in " \t":  # a space may lead a marker that gets dropped
            cut -= 1
        ready, self._pending = buf[:cut], buf[cut:]
        return self.map.rewrite(ready)

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        rest = _PARTIAL.sub("", rest)  # a marker cut off by the end of the stream
        return self.map.rewrite(rest).rstrip()


def split_sentences(text: str) -> list[str]:
    """Answer text split into sentences (markers stay with their sentence)."""
    text = text.strip()
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append(text[start : m.end()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [p for p in out if p]
