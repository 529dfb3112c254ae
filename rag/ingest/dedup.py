"""Exact and near-duplicate documents (wire copies): one is searched, the others named.

News agencies' copy is reprinted by many outlets: the same body under another headline,
a local paragraph added, a sentence trimmed. Documents are compared by their bodies'
word 5-gram shingles: identical normalised bodies are exact copies; bodies whose
estimated Jaccard similarity reaches the threshold are near-duplicates, found with
MinHash signatures and locality-sensitive hashing (datasketch), so the cost stays
near-linear in the number of documents.

Clusters are stars: documents are taken longest first (then the earliest published,
then by id), and each joins the most similar representative taken before it if that
one reaches the threshold, else becomes a representative itself. So every copy is
similar to its representative directly (no chains), the representative is the copy
with the most text, and the result does not depend on the order of ingestion.

What it does not do: touch the index. `cluster` returns each document's role; ingest
stores a copy's role in its `extra` (`duplicate_of`, `duplicate`, `similarity`) and
keeps it without chunks; `annotate_copies` gives each representative the list of its
copies (`also_published_by`) when an index is opened.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SHINGLE_WORDS = 5
NUM_PERM = 128
MIN_SIZE_RATIO = 0.5  # a copy keeps at least half of its representative's shingles
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Role:
    """A copy's place: the representative it belongs to, how, and how similar."""

    of: str
    kind: str  # "exact" (the same body as `same_as`) or "near"
    similarity: float
    same_as: str | None = field(default=None, compare=False)  # the identical document


@dataclass(slots=True)
class Member:
    """What clustering needs of a document."""

    id: str
    text: str
    published_at: str | None = None


def body_key(words: list[str]) -> str:
    """Equal for bodies that differ only in case, punctuation and white space."""
    return hashlib.sha1(" ".join(words).encode()).hexdigest()


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def overlap(copy: Any, rep: Any) -> float:
    """How much of `copy`'s shingles `rep` holds (both sorted unique arrays): 1.0 for a
    copy trimmed from the representative, lowered by what the copy adds or rewords.
    0 when the copy is under half the representative's size (a brief quoting a story
    is not a reprint of it)."""
    import numpy as np

    if not len(copy) or len(copy) < MIN_SIZE_RATIO * len(rep):
        return 0.0
    return len(np.intersect1d(copy, rep, assume_unique=True)) / len(copy)


def shingles(words: list[str], k: int = SHINGLE_WORDS) -> Any:
    """The distinct hashes of the word k-grams (a sorted numpy array). Words are hashed
    with Python's `hash`, which is salted per process: compare shingles and signatures
    made in one process only (nothing here is stored)."""
    import numpy as np

    if not words:
        return np.zeros(0, dtype=np.uint64)
    h = np.fromiter(map(hash, words), dtype=np.int64, count=len(words)).view(np.uint64)
    k = min(k, len(h))
    acc = np.zeros(len(h) - k + 1, dtype=np.uint64)
    for j in range(k):  # a polynomial rolling hash of k consecutive words
        acc = acc * np.uint64(1_000_003) + h[j : len(h) - k + 1 + j]
    # 32 bits, as MinHash's permutations expect
    return np.unique((acc ^ (acc >> np.uint64(32))) & np.uint64(0xFFFFFFFF))


def _minhash(sh: Any) -> Any:
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, hashfunc=int)  # the shingles are hashed already
    if len(sh):
        m.update_batch(sh.tolist())
    return m


def cluster(docs: Iterable[Member], threshold: float) -> dict[str, Role]:
    """The role of every document that is a copy of another (representatives are not in
    the result). `threshold` is the share of a copy's shingles found in its
    representative (`overlap`) from which it is a near-duplicate; above 1, only exact
    copies are clustered."""
    order = sorted(docs, key=lambda d: (-len(d.text), d.published_at or "\uffff", d.id))
    roles: dict[str, Role] = {}
    exact: dict[str, Role] = {}  # body → the role of a copy of it: its representative's
    reps: dict[str, Member] = {}
    lsh = None
    if threshold <= 1.0:
        from datasketch import MinHashLSH

        # Candidates come from the signatures' bands (tuned for a Jaccard similarity low
        # enough to find a copy trimmed to half); each is checked on the shingle sets.
        lsh = MinHashLSH(threshold=max(0.05, min(threshold, 0.99)) * 0.45, num_perm=NUM_PERM)
    for d in order:
        words = words_of(d.text)
        key = body_key(words)
        if key in exact:  # the same body as one seen: its representative
            first = exact[key]
            roles[d.id] = Role(first.of, "exact", first.similarity, same_as=first.same_as)
            continue
        exact[key] = Role(d.id, "exact", 1.0, same_as=d.id)
        if lsh is None:
            continue
        sh = shingles(words)
        sig = _minhash(sh)
        best: tuple[float, str] | None = None
        for rep in lsh.query(sig):
            sim = overlap(sh, shingles(words_of(reps[rep].text)))
            if sim >= threshold and (best is None or sim > best[0]):
                best = (sim, rep)
        if best is not None:
            roles[d.id] = Role(best[1], "near", round(best[0], 3))
            exact[key] = Role(best[1], "exact", round(best[0], 3), same_as=d.id)
        else:
            reps[d.id] = d
            lsh.insert(d.id, sig)
    return roles


def role_of(extra: Mapping[str, Any]) -> Role | None:
    """The role stored in a document's `extra`, if it is a copy."""
    of = extra.get("duplicate_of")
    if not of:
        return None
    return Role(str(of), str(extra.get("duplicate", "near")), float(extra.get("similarity", 1.0)))


def set_role(extra: dict[str, Any], role: Role | None) -> None:
    for k in ("duplicate_of", "duplicate", "similarity"):
        extra.pop(k, None)
    if role is not None:
        extra.update(duplicate_of=role.of, duplicate=role.kind, similarity=role.similarity)


def annotate_copies(docs: Mapping[str, Any]) -> None:
    """Give each representative's metadata (DocMeta) the list of its copies as
    `extra["also_published_by"]`: id, title, source, date and link of each, earliest
    first. Idempotent."""
    copies: dict[str, list[dict[str, Any]]] = {}
    for d in docs.values():
        of = d.extra.get("duplicate_of")
        if of and of in docs:
            copies.setdefault(of, []).append(
                {
                    "id": d.id,
                    "title": d.title,
                    "source": d.source,
                    "published_at": d.published_at,
                    "url": d.url,
                    "duplicate": d.extra.get("duplicate", "near"),
                }
            )
    for rep_id, items in copies.items():
        items.sort(key=lambda x: (x["published_at"] or "\uffff", x["id"]))
        docs[rep_id].extra["also_published_by"] = items
