"""The index on disk: vectors, chunk table and manifest, in atomic, checksummed generations.

Modules: `layout` (folder layout, durable writes), `reader` (a generation opened
read-only), `opening` (find, check and open the live one), `writer` (build and publish
the next one), `build` (FAISS and BM25 derived at commit), `integrity` (file records,
checksums, checks), `verify` (every generation of an index checked; damaged ones set
aside), `write_errors` (a failed write as one line), `checks` (settings compatibility).
`load` is the inverse of `save` (tested).
"""

from rag.store.checks import check_compatible
from rag.store.integrity import Damage, GenerationCheck, check_generation
from rag.store.layout import (
    CURRENT,
    FORMAT_VERSION,
    LOCK,
    current_generation,
    generations,
    is_generation_name,
)
from rag.store.opening import VERIFY_ON_OPEN_MB, live_generation, open_index
from rag.store.reader import IVF_NPROBE, ChunkTable, StoredIndex
from rag.store.writer import IndexWriter, PendingDoc

__all__ = [
    "CURRENT",
    "FORMAT_VERSION",
    "IVF_NPROBE",
    "LOCK",
    "VERIFY_ON_OPEN_MB",
    "ChunkTable",
    "Damage",
    "GenerationCheck",
    "IndexWriter",
    "PendingDoc",
    "StoredIndex",
    "check_compatible",
    "check_generation",
    "current_generation",
    "generations",
    "is_generation_name",
    "live_generation",
    "open_index",
]
