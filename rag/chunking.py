"""Document → Chunks: sentence-aware, token-budgeted, with exact character spans.

A chunk is a run of whole sentences of one document whose embedded form — a short
metadata header (title, source, date) plus the passage — fits in `max_tokens` tokens of
the embedding model's tokenizer, special tokens included. Consecutive chunks repeat up
to `overlap_tokens` tokens of whole sentences. A sentence longer than the budget is cut
at word boundaries. Every chunk keeps `text == doc.text[start:end]` and the spans of its
sentences. What it does not do: embed, or decide what is searched (see `embed_text`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.types import Chunk, DocMeta, Document


class TokenCounter(Protocol):
    """What chunking needs from a tokenizer: token counts and token end offsets."""

    def count(self, texts: Sequence[str]) -> list[int]: ...

    def offsets(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(frozen=True, slots=True)
class ChunkParams:
    max_tokens: int = 256
    overlap_tokens: int = 32
    header: bool = True
    special_tokens: int = 2  # [CLS] ... [SEP]


def header_text(doc: Document | DocMeta) -> str:
    """The metadata header embedded and searched with each chunk ('' if there is nothing)."""
    second = " · ".join(x for x in (doc.source, (doc.published_at or "")[:10] or None) if x)
    return "\n".join(x for x in (doc.title, second) if x)


def embed_text(chunk_text: str, header: str) -> str:
    """What is embedded and indexed for a chunk: its header, a blank line, the passage."""
    return f"{header}\n\n{chunk_text}" if header else chunk_text


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`, stripped of surrounding white space.

    Paragraph breaks always end a sentence. Uses sentencex (rule-based, fast).
    """
    import sentencex

    spans: list[tuple[int, int]] = []
    pos = 0
    for seg in sentencex.segment("en", text):
        start = text.find(seg, pos) if seg else pos
        if start < 0:  # the segmenter changed the text: fall back to its length
            start = pos
        end = start + len(seg)
        pos = end
        # a segment may still hold line breaks (lists, headings): split on them too
        for line_start, line_end in _lines(text, start, end):
            spans.append((line_start, line_end))
    return spans


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    i = start
    while i < end:
        j = text.find("\n", i, end)
        j = end if j < 0 else j
        s, e = i, j
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
        i = j + 1
    return out


class Chunker:
    """Cuts documents into chunks that fit the embedding model's window.

    The document is tokenised once; a span's token count is the number of tokens that
    start inside it (exact for WordPiece, whose pre-tokeniser splits at white space and
    punctuation, so a span tokenised alone gives the same tokens).
    """

    def __init__(self, tokens: TokenCounter, params: ChunkParams) -> None:
        self.tokens = tokens
        self.params = params

    def budget(self, doc: Document | DocMeta) -> int:
        """Tokens left for the passage once the header and special tokens are paid for."""
        p = self.params
        header = header_text(doc) if p.header else ""
        header_cost = self.tokens.count([header + "\n\n"])[0] if header else 0
        header_cost = min(header_cost, p.max_tokens // 4)  # a huge title is cut by the model
        return max(16, p.max_tokens - p.special_tokens - header_cost)

    def chunk(self, doc: Document) -> list[Chunk]:
        p = self.params
        budget = self.budget(doc)
        starts = [s for s, _ in self.tokens.offsets(doc.text)]

        def count(s: int, e: int) -> int:
            return bisect_left(starts, e) - bisect_left(starts, s)

        spans = _fit(split_sentences(doc.text), starts, budget, doc.text)
        counts = [count(s, e) for s, e in spans]
        chunks: list[Chunk] = []
        i, n = 0, len(spans)
        while i < n:
            j, used = i, 0
            while j < n and (j == i or used + counts[j] <= budget):
                used += counts[j]
                j += 1
            start, end = spans[i][0], spans[j - 1][1]
            chunks.append(
                Chunk(
                    id=f"{doc.id}#{len(chunks)}",
                    doc_id=doc.id,
                    text=doc.text[start:end],
                    start=start,
                    end=end,
                    sentences=list(spans[i:j]),
                )
            )
            if j >= n:
                break
            # the next chunk starts with trailing sentences worth at most overlap_tokens
            # (never so much that the next new sentence no longer fits beside it)
            k, overlap = j, 0
            while (
                k - 1 > i
                and overlap + counts[k - 1] <= p.overlap_tokens
                and overlap + counts[k - 1] + counts[j] <= budget
            ):
                overlap += counts[k - 1]
                k -= 1
            i = k
        return chunks


def _fit(
    spans: list[tuple[int, int]], starts: list[int], budget: int, text: str
) -> list[tuple[int, int]]:
    """Cut sentences longer than the budget into pieces that fit, at a space if possible."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        a, b = bisect_left(starts, s), bisect_left(starts, e)
        if b - a <= budget:
            out.append((s, e))
            continue
        piece_start = s
        while a < b:
            last = min(a + budget, b)  # tokens [a, last) go into this piece
            cut = e if last >= b else starts[last]
            if last < b:
                ws = text.rfind(" ", starts[a] + 1, cut)
                if ws > piece_start:
                    cut = ws
            out.extend(_lines(text, piece_start, cut))
            a = bisect_left(starts, cut)
            piece_start = cut
    return out
