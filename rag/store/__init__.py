"""The index on disk: vectors, chunk table and manifest, in atomic generations.

Modules: `layout` (folder layout, durable writes), `reader` (open a generation),
`writer` (build and publish the next one), `build` (FAISS and BM25 derived at commit),
`checks` (settings compatibility). `load` is the inverse of `save` (tested).
"""

from rag.store.checks import check_compatible
from rag.store.layout import CURRENT, FORMAT_VERSION, LOCK, current_generation
from rag.store.reader import IVF_NPROBE, ChunkTable, StoredIndex, open_index
from rag.store.writer import IndexWriter, PendingDoc

__all__ = [
    "CURRENT",
    "FORMAT_VERSION",
    "IVF_NPROBE",
    "LOCK",
    "ChunkTable",
    "IndexWriter",
    "PendingDoc",
    "StoredIndex",
    "check_compatible",
    "current_generation",
    "open_index",
]
