"""Ingest on a Ray cluster (`rag ingest --ray [ADDRESS]`): reading, chunking and embedding
run on Ray Data; the driver plans what changed and writes the store, as a plain ingest.

The output is the same as a plain ingest's, bit for bit (tests/test_ray_ingest.py
compares chunk ids, texts and vectors): files are read by the same readers and their
documents collected in the order a plain ingest collects them (so ids and hashes are the
same); chunks are cut by the same Chunker; and each Ray task embeds one of the groups a
plain ingest embeds together (whole documents until 64 chunks), with the same encoder
and batch size. That matters: the int8 encoder quantises activations per batch, so a
chunk's vector depends on what it is embedded with.

Ray is an optional extra (`pip install "rag[ray]"`), imported only here, never on the
path of `rag ask`. Without an address a local Ray starts (and stops) in this process;
with one (`auto`, `ray://host:10001`, `host:6379`) the ingest joins that cluster. Each
worker loads the encoder once (an actor per worker); URLs are fetched by the driver.

What it does not do: decide what to embed or write the index (rag.ingest.update).
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.ingest.common import ReadResult
    from rag.types import Chunk, Document

LOCAL = "local"


class RayCluster:
    """Ray started (or joined) for one ingest; stopped at the end when started here."""

    def __init__(self, address: str | None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                'rag ingest --ray needs Ray: pip install "rag[ray]" (or run it without --ray)'
            ) from None
        self.ray = ray
        self.address = None if address in (None, "", LOCAL) else address
        self.workers = workers

    def __enter__(self) -> RayCluster:
        ray = self.ray
        for name in ("ray", "ray.data", "ray.data._internal", "ray._private"):
            logging.getLogger(name).setLevel(logging.ERROR)  # errors only, as a plain ingest
        if self.address not in (None, "auto"):
            _check_reachable(self.address)  # Ray itself retries an absent head for minutes
        self.started = not ray.is_initialized()
        if self.started:
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None:
                kw["num_cpus"] = self.workers or os.cpu_count() or 1
                loopback_only(ray)
            try:
                ray.init(address=self.address, configure_logging=False, **kw)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(
                    f"cannot reach the Ray cluster at {self.address}: {str(e).splitlines()[0]}; "
                    "check the address (`ray status` on the head node), or use --ray alone "
                    "for a local Ray"
                ) from None
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results in the order given
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.ray.shutdown()

    @property
    def size(self) -> int:
        """Workers to use: the cluster's CPUs (at least 1)."""
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        return max(1, min(cpus, self.workers or cpus))

    # ------------------------------------------------------------------ reading
    def read(self, files: Sequence[Path | str], s: Settings) -> ReadResult:
        """Read files and folders on the cluster; documents collected in file order,
        exactly as `rag.ingest.files.read_paths` collects them."""
        from rag.ingest.common import ReadResult, Skipped
        from rag.ingest.files import (
            SUPPORTED,
            IdRegistry,
            _rel,
            discover,
            slugify,
            unsupported,
        )

        result = ReadResult()
        ids = IdRegistry()
        found = discover(files, s.limits.max_files)
        todo = [(str(f), str(r)) for f, r in found if f.suffix.lower() in SUPPORTED]
        read: dict[str, list[Any]] = {}
        if todo:
            ds = self.ray.data.from_items(  # a few blocks per worker: each a task
                [{"file": f} for f, _ in todo], override_num_blocks=min(len(todo), 8 * self.size)
            )
            fn = _Reader(s.limits.max_file_mb, s.ingest.html_extractor)
            for row in ds.map_batches(fn, batch_size=1, zero_copy_batch=True).iter_rows():
                read[row["file"]] = pickle.loads(row["items"])
        for file, root in found:
            if file.suffix.lower() not in SUPPORTED:
                result.skipped.append(Skipped(str(file), unsupported(file)))
                continue
            result.files += 1
            path_id = slugify(_rel(file, root).rsplit(".", 1)[0])
            for item in read[str(file)]:
                ids.collect(item, result, path_id)
        return result

    # ------------------------------------------------------------------ chunking
    def chunk(self, docs: Sequence[Document], s: Settings, model_dir: Path) -> list[list[Chunk]]:
        """Each document's chunks, cut on the cluster (in order)."""
        if not docs:
            return []
        blocks = min(len(docs), 4 * self.size)
        ds = self.ray.data.from_items(
            [{"doc": pickle.dumps(d)} for d in docs], override_num_blocks=blocks
        )
        args = (str(model_dir), s.chunking.max_tokens, s.chunking.overlap_tokens,
                s.chunking.header)  # fmt: skip
        rows = self._on_actors(ds, _Chunk, args, batch_size=16, actors=min(self.size, blocks))
        return [pickle.loads(r["chunks"]) for r in rows]

    # ------------------------------------------------------------------ embedding
    def embed(
        self,
        groups: Sequence[tuple[list[str], list[list[tuple[int, int]]]]],
        s: Settings,
        encoder: dict[str, Any],
    ) -> Iterator[tuple[Any, list[Any]]]:
        """Per group of (texts, sentence spans), its vectors and sentence vectors, as each
        group is done, in order: one Ray task per group, an encoder per worker."""
        if not groups:
            return
        ds = self.ray.data.from_items(
            [{"group": pickle.dumps(g)} for g in groups], override_num_blocks=len(groups)
        )
        args = (encoder["model"], encoder["backend"], encoder["cache_dir"], s.embedding.batch_size)
        rows = self._on_actors(ds, _Embed, args, batch_size=1, actors=min(self.size, len(groups)))
        for r in rows:
            yield pickle.loads(r["vectors"])

    def _on_actors(
        self, ds: Any, cls: type, args: tuple[Any, ...], batch_size: int, actors: int
    ) -> Iterator[dict[str, Any]]:
        """`ds` through a pool of `actors` instances of `cls(*args)`, rows in order. An
        actor is not restarted (a failed ingest fails); Ray 2.60 says the argument for
        that will move (in 2.64), and otherwise logs that constructor arguments held in
        its object store may not outlive a restart."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
            out = ds.map_batches(
                cls,
                fn_constructor_args=args,
                batch_size=batch_size,
                compute=self.ray.data.ActorPoolStrategy(size=actors),
                max_restarts=0,
            )
        return out.iter_rows()


def loopback_only(ray: Any) -> None:
    """A local Ray on 127.0.0.1 only. Ray turns a `_node_ip_address` of 127.0.0.1 into the
    machine's address and its servers then listen on every interface; its single-machine
    mode (the default on macOS and Windows, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) gives
    loopback addresses to the head, the workers (which inherit the variable) and their
    servers. Ray reads the variable when imported, so its constant is set as well."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A one-line error now, when nothing answers at `host:port` (or `ray://host:port`)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address}: {e}; check the address (`ray status` "
            "on the head node), or use --ray alone for a local Ray"
        ) from None


# --------------------------------------------------------------------------- on the workers


class _Reader:
    def __init__(self, max_file_mb: float, html_extractor: str) -> None:
        self.max_file_mb, self.html_extractor = max_file_mb, html_extractor

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from rag.ingest.files import read_file

        files = list(batch["file"])
        items = [
            pickle.dumps(
                list(read_file(Path(f), self.max_file_mb, html_extractor=self.html_extractor))
            )
            for f in files
        ]
        return {"file": files, "items": items}


class _Chunk:
    def __init__(self, model_dir: str, max_tokens: int, overlap: int, header: bool) -> None:
        from rag.chunking import Chunker, ChunkParams
        from rag.embed import TokenizerCounter, load_tokenizer

        params = ChunkParams(max_tokens=max_tokens, overlap_tokens=overlap, header=header)
        self.chunker = Chunker(TokenizerCounter(load_tokenizer(Path(model_dir))), params)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = [pickle.dumps(self.chunker.chunk(pickle.loads(d))) for d in batch["doc"]]
        return {"chunks": out}


class _Embed:
    def __init__(self, model: str, backend: str, cache_dir: str | None, batch_size: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from rag.embed import get_encoder

        self.enc = get_encoder(model, backend, Path(cache_dir) if cache_dir else None)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = []
        for g in batch["group"]:
            texts, spans = pickle.loads(g)
            vecs, sents = self.enc.encode_with_spans(texts, spans, batch_size=self.batch_size)
            out.append(pickle.dumps((vecs, sents)))
        return {"vectors": out}
