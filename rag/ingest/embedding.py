"""What an ingest embeds, and embedding it: here, or on Ray (`rag ingest --ray`).

`embed_inputs` turns a group of documents' chunks (whole documents, `update._batches`)
into the texts the encoder sees (each chunk with its header) and its sentences' spans in
them; `encode_groups` yields each group's vectors and sentence vectors, in order, from
the local encoder or from a Ray cluster (rag.ingest.ray_run). Each group is embedded as
one call in both cases: the int8 encoder quantises activations per batch, so a chunk's
vector depends on what it is embedded with, and the same groups give the same vectors.

What it does not do: decide what to embed, or write the index (rag.ingest.update).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.chunking import embed_text, header_text
from rag.config import Settings
from rag.embed import Encoder
from rag.types import Chunk, Document

Group = tuple[list[str], list[list[tuple[int, int]]]]  # texts, each one's sentence spans


def embed_inputs(batch: Sequence[tuple[Document, list[Chunk]]], s: Settings) -> Group:
    """What a group embeds: each chunk's text with its header, its sentences' spans."""
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    for d, chunks in batch:
        header = header_text(d) if s.chunking.header else ""
        shift = len(embed_text("", header))  # the passage starts after it
        for c in chunks:
            texts.append(embed_text(c.text, header))
            spans.append([(a - c.start + shift, b - c.start + shift) for a, b in c.sentences])
    return texts, spans


def encode_groups(
    groups: Sequence[Group],
    s: Settings,
    enc: Encoder,
    cluster: Any = None,
    on_advance: Callable[[int], None] | None = None,
) -> Iterator[tuple[Any, list[Any]]]:
    """Vectors and sentence vectors of each group, in order, here or on a Ray cluster
    (rag.ingest.ray_run.RayCluster) whose workers load the same encoder."""
    if cluster is None:
        for texts, spans in groups:
            yield enc.encode_with_spans(
                texts, spans, batch_size=s.embedding.batch_size, progress=on_advance
            )
        return
    from rag.resources import default_index_root

    cache = (
        Path(s.embedding.cache_dir) if s.embedding.cache_dir else default_index_root() / ".models"
    )
    spec = {"model": s.embedding.model, "backend": enc.backend, "cache_dir": str(cache.resolve())}
    for (texts, _), out in zip(groups, cluster.embed(groups, s, spec), strict=True):
        if on_advance:
            on_advance(len(texts))
        yield out
