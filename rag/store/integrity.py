"""What a generation's manifest records about each of its files, and checking it.

At commit, `describe_files` records every file of the generation (path relative to the
generation folder, so a generation made of several segment files is just more entries):
its size, an xxh3-128 checksum and, for NumPy arrays, shape and dtype. `sealed_json`
ends the manifest with a checksum of itself, so a flipped bit there is found too.

`check_generation` compares a generation with its manifest:
  cheap  every file is there with its recorded size; arrays have their recorded header
         and a body of the right length; SQLite's header agrees with the file size; the
         manifest matches its own checksum. About a millisecond, on every open.
  full   also hashes every byte (`rag index verify`, an ingest before it copies a
         generation, and every open of a generation up to `index.verify_on_open_mb`).

Why xxh3-128 and not sha256: the checksums find accidental damage (a truncated copy, a
bad disk, a stray write); anyone who can write the index can rewrite its manifest too,
so a cryptographic hash buys nothing here. On this machine xxh3 hashes at memory speed
(25-30 GB/s), blake3 at 7.5 GB/s and sha256 (with SHA-NI) at 1.8 GB/s
(bench/index_checksums.py). A manifest may name another algorithm per file ("sha256",
"blake2b"): verification reads whichever is recorded.

Manifests written before checksums existed (no "files") get the checks that need no
record: array headers against the manifest's counts, SQLite's header, and with `full`
SQLite's own `PRAGMA quick_check`.

What it does not do: open the index for reading (rag.store.reader) or repair anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError

MANIFEST = "manifest.json"
HASH = "xxh3_128"
SELF_KEY = "manifest_" + HASH  # the manifest's checksum of itself (without this key)
_BLOCK = 4 << 20


@dataclass(frozen=True)
class Damage:
    """One damaged file of a generation: its path in the generation and what is wrong."""

    generation: str
    file: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.generation}/{self.file}" if self.file else self.generation
        return f"{where} {self.problem}"


@dataclass
class GenerationCheck:
    """The result of checking one generation."""

    generation: str
    manifest: dict[str, Any] | None = None  # None when it cannot be read
    damage: list[Damage] = field(default_factory=list)
    full: bool = False  # every byte was hashed
    checksums: bool = False  # the manifest records per-file checksums
    files: int = 0
    bytes: int = 0

    @property
    def intact(self) -> bool:
        return not self.damage


REPAIR_HINT = "run `rag index repair` (`rag index verify` lists what is damaged)"


def corrupt_error(index_dir: Path, damage: Sequence[Damage]) -> IndexCorruptError:
    """The one-line error for damage found: the index, the first damaged file, the fix."""
    more = len(damage) - 1
    also = f" (and {more} more file{'s' if more > 1 else ''})" if more > 0 else ""
    return IndexCorruptError(f"index {index_dir} is damaged: {damage[0]}{also}; {REPAIR_HINT}")


# --------------------------------------------------------------------------- hashing


def _hasher(algorithm: str) -> Callable[[], Any]:
    if algorithm.startswith("xxh3"):
        import xxhash

        return {"xxh3_128": xxhash.xxh3_128, "xxh3_64": xxhash.xxh3_64}[algorithm]
    return lambda: hashlib.new(algorithm)


def hash_file(path: Path, algorithm: str = HASH) -> str:
    """Hex checksum of a file, read in 4 MB blocks (no memory map: a truncated or
    vanishing file raises OSError instead of SIGBUS)."""
    h = _hasher(algorithm)()
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return str(h.hexdigest())


def sealed_json(manifest: dict[str, Any]) -> str:
    """The manifest as JSON, ending with its own checksum: the xxh3 of the file's bytes as
    they would be without that last member. Checking it hashes bytes; no re-serialising."""
    body = json.dumps(
        {k: v for k, v in manifest.items() if k != SELF_KEY}, indent=1, ensure_ascii=False
    )
    h = _hasher(HASH)()
    h.update(body.encode("utf-8"))
    return body[:-2] + f',\n "{SELF_KEY}": "{h.hexdigest()}"\n}}'  # body ends "\n}"


_TRAILER = re.compile(rb',\n "' + SELF_KEY.encode() + rb'": "([0-9a-f]{32})"\n\}\s*\Z')


def _seal_ok(raw: bytes) -> bool | None:
    """True/False when the manifest ends with its checksum, None when it has none."""
    m = _TRAILER.search(raw)
    if m is None:
        return False if SELF_KEY.encode() in raw else None
    h = _hasher(HASH)()
    h.update(raw[: m.start()] + b"\n}")
    return bool(h.hexdigest() == m.group(1).decode())


def describe_files(gen_dir: Path, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every file of a generation folder (or of a segment folder, its paths given
    `prefix`) but the manifest: size, checksum, array header."""
    out: dict[str, dict[str, Any]] = {}
    for dirpath, dirs, files in os.walk(gen_dir):
        dirs.sort()
        for name in sorted(files):
            p = Path(dirpath) / name
            rel = p.relative_to(gen_dir).as_posix()
            if rel == MANIFEST:
                continue
            out[prefix + rel] = describe_file(p)
    return out


def describe_file(p: Path) -> dict[str, Any]:
    """One file's record: size, checksum and, for a NumPy array, shape and dtype."""
    entry: dict[str, Any] = {"bytes": p.stat().st_size, HASH: hash_file(p)}
    if p.name.endswith(".npy"):
        shape, dtype, _ = _npy_header(p)
        entry["shape"], entry["dtype"] = list(shape), dtype
    return entry


# --------------------------------------------------------------------------- headers


def _npy_header(path: Path) -> tuple[tuple[int, ...], str, int]:
    """Shape, dtype and the size the file must have. Raises ValueError/OSError."""
    import numpy as np

    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
        offset = f.tell()
    count = 1
    for s in shape:
        count *= int(s)
    return tuple(int(s) for s in shape), dtype.str, offset + count * dtype.itemsize


def _sqlite_header_problem(path: Path, size: int) -> str | None:
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
        return "is not an SQLite database (its header is damaged)"
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    valid = head[24:28] == head[92:96]  # the page count is valid for this change counter
    if page < 512 or page & (page - 1):
        return "is not an SQLite database (its header is damaged)"
    if valid and pages and pages * page != size:
        return f"holds {size:,} bytes, its header says {pages * page:,} ({pages} pages)"
    return None


def _size_problem(size: int, expected: int) -> str:
    how = "truncated" if size < expected else "grown"
    return f"is {size:,} bytes, the manifest says {expected:,} ({how})"


# --------------------------------------------------------------------------- checking


def read_manifest(gen_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The parsed manifest, or None and what is wrong with it."""
    try:
        raw = (gen_dir / MANIFEST).read_bytes()
    except FileNotFoundError:
        return None, "is missing"
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f" at byte {e.start}" if isinstance(e, UnicodeDecodeError) else f" ({e.msg})"
        return None, f"is not valid JSON{where}"
    if not isinstance(manifest, dict):
        return None, "is not a JSON object"
    sealed = _seal_ok(raw)
    if sealed is False or (sealed is None and "files" in manifest):
        return None, "does not match its own checksum (changed after it was written)"
    return manifest, None


def check_generation(index_dir: Path, gen: str, *, full: bool = False) -> GenerationCheck:
    """Compare one generation with its manifest (see the module docstring)."""
    gen_dir = Path(index_dir) / gen
    out = GenerationCheck(gen, full=full)
    if not gen_dir.is_dir():
        out.damage.append(Damage(gen, "", "is missing"))
        return out
    manifest, problem = read_manifest(gen_dir)
    if manifest is None:
        out.damage.append(Damage(gen, MANIFEST, problem or "is unreadable"))
        return out
    out.manifest = manifest
    recorded = manifest.get("files")
    if isinstance(recorded, dict) and (recorded or "segments" in manifest):
        out.checksums = True
        for rel, entry in sorted(recorded.items()):
            bad = _check_recorded(gen_dir / rel, entry, full=full)
            out.files += 1
            out.bytes += int(entry.get("bytes", 0))
            if bad:
                out.damage.append(Damage(gen, rel, bad))
    else:
        for rel, bad in _check_unrecorded(gen_dir, manifest, full=full):
            out.damage.append(Damage(gen, rel, bad))
    return out


def _check_recorded(path: Path, entry: dict[str, Any], *, full: bool) -> str | None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "is missing"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size != entry.get("bytes"):
        return _size_problem(size, int(entry.get("bytes", -1)))
    try:
        if "shape" in entry:
            shape, dtype, _ = _npy_header(path)
            if list(shape) != entry["shape"] or dtype != entry.get("dtype"):
                return (
                    f"holds an array {list(shape)} {dtype}, the manifest says "
                    f"{entry['shape']} {entry.get('dtype')}"
                )
        elif path.suffix == ".sqlite":
            bad = _sqlite_header_problem(path, size)
            if bad:
                return bad
        if full:
            for algorithm in (HASH, "sha256", "blake2b", "xxh3_64"):
                if algorithm in entry:
                    if hash_file(path, algorithm) != entry[algorithm]:
                        return "does not match its checksum (changed after it was written)"
                    break
    except (OSError, ValueError) as e:
        return f"is unreadable ({_reason(e)})"
    return None


def _check_unrecorded(
    gen_dir: Path, manifest: dict[str, Any], *, full: bool
) -> list[tuple[str, str]]:
    """Checks for a manifest with no file records: headers against the counts, per
    segment (a generation before segments is one, at its root)."""
    dim = manifest.get("embedding", {}).get("dim")
    counts = manifest.get("counts", {})
    if "segments" in manifest:
        parts = [
            (m["name"] + "/", m.get("chunks"), m.get("sentences")) for m in manifest["segments"]
        ]
    else:
        parts = [("", counts.get("chunks"), counts.get("sentences"))]
    bad: list[tuple[str, str]] = []
    for prefix, chunks, sentences in parts:
        bad += _check_unrecorded_part(gen_dir, prefix, chunks, sentences, dim, full=full)
    return bad


def _check_unrecorded_part(
    gen_dir: Path, prefix: str, chunks: Any, sentences: Any, dim: Any, *, full: bool
) -> list[tuple[str, str]]:
    bad: list[tuple[str, str]] = []
    arrays = {prefix + "vectors.npy": chunks, prefix + "sentences.npy": sentences}
    for rel, rows in arrays.items():
        p = gen_dir / rel
        if not p.is_file():
            if rel.endswith("vectors.npy") or (rows or 0) > 0:
                bad.append((rel, "is missing"))
            continue
        try:
            shape, _dtype, need = _npy_header(p)
            size = p.stat().st_size
        except (OSError, ValueError) as e:
            bad.append((rel, f"is unreadable ({_reason(e)})"))
            continue
        if size != need:
            bad.append((rel, f"is {size:,} bytes, its header says {need:,}"))
        elif rows is not None and dim is not None and shape != (rows, dim):
            bad.append((rel, f"holds {list(shape)}, the manifest counts {[rows, dim]}"))
    db = gen_dir / prefix / "chunks.sqlite"
    if not db.is_file():
        bad.append((prefix + "chunks.sqlite", "is missing"))
    else:
        problem = _sqlite_header_problem(db, db.stat().st_size)
        if problem is None and full:
            problem = _sqlite_quick_check(db)
        if problem:
            bad.append((prefix + "chunks.sqlite", problem))
    if chunks and not (gen_dir / prefix / "lexical" / "chunks").is_dir():
        bad.append((prefix + "lexical/chunks", "is missing"))
    return bad


def _sqlite_quick_check(db: Path) -> str | None:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        return f"is damaged ({e})"
    if rows != [("ok",)]:
        return f"is damaged (SQLite: {rows[0][0]})"
    return None


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return " ".join(str(e).split())[:120] or type(e).__name__
