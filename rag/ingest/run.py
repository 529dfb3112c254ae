"""The parts of an ingest run that sit between reading and the index writer.

- `read_inputs`: files, folders and URLs named together → one ReadResult (unique ids
  across all of them), fetching pages with the stored HTTP validators.
- `plan_copies`: duplicate clustering over what is stored and what was read, and what
  it changes: documents to store as copies (no chunks), documents to embed again
  because they stopped being copies.
- `stored_document`: a stored document back as a Document (to re-store or re-embed).
- `interrupted_message`: the one line an interrupted ingest ends with.

What it does not do: embed or write (see `api.ingest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.ingest.common import ReadResult, Unchanged
from rag.ingest.dedup import Member, Role, cluster, role_of, set_role
from rag.ingest.files import IdRegistry, read_paths
from rag.ingest.web import is_url
from rag.types import Document

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.store import StoredIndex


def split_inputs(paths: Sequence[Path | str]) -> tuple[list[Path | str], list[str]]:
    files = [p for p in paths if not is_url(str(p))]
    urls = [str(p).strip() for p in paths if is_url(str(p))]
    return files, urls


def read_inputs(
    paths: Sequence[Path | str],
    s: Settings,
    known: dict[str, tuple[str, dict[str, str]]],
    cluster: Any = None,
) -> ReadResult:
    """Read files and folders (on a Ray `cluster` when given), then fetch URLs; ids
    unique across both."""
    files, urls = split_inputs(paths)
    opts = s.ingest
    if cluster is not None:
        result = cluster.read(files, s)
    else:
        result = read_paths(
            files,
            max_file_mb=s.limits.max_file_mb,
            max_files=s.limits.max_files,
            html_extractor=opts.html_extractor,
        )
    if not urls:
        return result
    from rag.ingest.fetch import Fetcher
    from rag.ingest.web import read_urls

    ids = IdRegistry()
    for d in result.documents:
        ids.seen[d.id] = d.origin or d.id
    with Fetcher(
        user_agent=opts.user_agent,
        timeout_s=opts.fetch_timeout_s,
        max_mb=opts.fetch_max_mb,
        max_redirects=opts.max_redirects,
        respect_robots=opts.respect_robots,
    ) as fetcher:
        for item in read_urls(
            urls, fetcher, known=known, max_pages=opts.max_pages, html_extractor=opts.html_extractor
        ):
            if isinstance(item, Unchanged):
                result.unchanged.append(item)
                continue
            if isinstance(item, Document):
                result.files += 1
            ids.collect(item, result)  # a taken id gets a number
    return result


def known_pages(index: StoredIndex | None) -> dict[str, tuple[str, dict[str, str]]]:
    """URL → (document id, HTTP validators) of the stored pages that have validators."""
    if index is None:
        return {}
    out = {}
    for d in index.docs().values():
        v = d.extra.get("http")
        if d.origin and is_url(d.origin) and isinstance(v, dict) and v:
            out[d.origin] = (d.id, {k: str(x) for k, x in v.items()})
    return out


def stored_document(index: StoredIndex, doc_id: str) -> Document:
    m = index.docs()[doc_id]
    return Document(
        id=m.id,
        title=m.title,
        text=index.doc_text(doc_id) or "",
        source=m.source,
        url=m.url,
        published_at=m.published_at,
        origin=m.origin,
        extra={k: v for k, v in m.extra.items() if k != "also_published_by"},
        hash=(index.record(doc_id) or {}).get("hash", ""),
    )


@dataclass
class CopyPlan:
    roles: dict[str, Role] = field(default_factory=dict)  # every copy, stored or read
    as_copies: list[Document] = field(default_factory=list)  # store without chunks
    to_embed: list[Document] = field(default_factory=list)  # stored copies that stopped being
    new_copies: list[Document] = field(default_factory=list)  # read documents now copies

    def origin_of(self, doc_id: str, read: dict[str, Document], index: Any) -> str:
        d = read.get(doc_id)
        if d is not None:
            return d.origin or doc_id
        if index is not None and doc_id in index.docs():
            return index.docs()[doc_id].origin or doc_id
        return doc_id


def plan_copies(
    read_docs: list[Document],
    changed: set[str],
    base: StoredIndex | None,
    removed: set[str],
    threshold: float,
) -> CopyPlan:
    """Cluster stored and read documents; say what to store as a copy and what to embed.

    `changed` are the ids of read documents that are new or changed (they are stored
    anyway); `removed` the stored ids that go. Documents keep their role in `extra`."""
    read = {d.id: d for d in read_docs}
    members: dict[str, Member] = {}
    before: dict[str, Role | None] = {}
    stored = base.docs() if base is not None else {}
    for doc_id, meta in stored.items():
        if doc_id in removed:
            continue
        before[doc_id] = role_of(meta.extra)
        if doc_id not in read:
            members[doc_id] = Member(doc_id, base.doc_text(doc_id) or "", meta.published_at)  # type: ignore[union-attr]
    for d in read_docs:
        members[d.id] = Member(d.id, d.text, d.published_at)
    roles = cluster(members.values(), threshold)
    plan = CopyPlan(roles=roles)
    for doc_id in members:
        new = roles.get(doc_id)
        d = read.get(doc_id)
        if d is not None:
            set_role(d.extra, new)
            if doc_id in changed:
                if new is not None:
                    plan.as_copies.append(d)
                    plan.new_copies.append(d)
                continue
        old = before.get(doc_id)
        if old == new:
            continue
        doc = d if d is not None else stored_document(base, doc_id)  # type: ignore[arg-type]
        set_role(doc.extra, new)
        if new is not None:
            plan.as_copies.append(doc)
        else:
            plan.to_embed.append(doc)
    return plan


def copy_notice(doc: Document, role: Role, rep_origin: str, same_origin: str) -> str:
    where = doc.origin or doc.id
    if role.kind == "exact":
        also = "" if same_origin == rep_origin else f", searched as {rep_origin}"
        return f"note: {where} is an exact copy of {same_origin}; stored once{also}"
    return (
        f"note: {where} is a near-duplicate of {rep_origin} ({role.similarity:.0%} of its "
        "text shared): kept as 'also published by', not searched (ingest.near_duplicates)"
    )


def interrupted_message(
    index: Path, signal_word: str, *, kept_now: int, committed: int, todo: int, rebuild: bool
) -> str:
    """One line: the index, what it keeps, and how to continue."""
    if rebuild:
        return (
            f"{signal_word}: the rebuild of index {index} was not published; the index keeps "
            f"its previous {kept_now} documents. Run `rag ingest --rebuild` again to rebuild it"
        )
    if committed:
        return (
            f"{signal_word}: index {index} kept {committed} of the {todo} new or changed "
            f"documents ({kept_now} documents in all); run the same `rag ingest` again to add "
            "the rest (what is stored is not embedded again)"
        )
    return (
        f"{signal_word}: nothing new was stored in index {index} (it keeps its {kept_now} "
        "documents); run the same `rag ingest` again to continue"
    )
