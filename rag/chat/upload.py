"""Files dropped into the chat, and URLs pasted alone, ingested into the chat's index.

What the chat's `on_message` hands over (file names, their temporary paths, the message
text) is checked against the limits (`chat.upload_max_files`, `chat.upload_max_mb`,
the types ingest reads); accepted files are copied into `<index>/uploads/chat/` (so the
index's manifest records a file that stays, and `rag ingest` with no path reads it
again), then `api.ingest` runs with a progress callback that the chat shows. Every
problem is one readable line naming the file. What it does not do: talk to chainlit
(app.py does: it shows `Progress` texts and the summary).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings

ACCEPT = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
# what the browser's file picker offers (chainlit's spontaneous_file_upload.accept)
ACCEPT_MIME = {
    "text/plain": [".txt", ".md", ".markdown"],
    "text/markdown": [".md", ".markdown"],
    "text/html": [".html", ".htm"],
    "application/pdf": [".pdf"],
}
_URL = re.compile(r"https?://[^\s<>\"']+", re.I)


@dataclass(slots=True)
class Upload:
    name: str  # as the user's browser sent it
    path: Path | None  # where chainlit stored it
    size: int | None = None


@dataclass
class Plan:
    files: list[Upload] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per refused upload
    question: str = ""  # the message's text when it is more than the URLs


def urls_alone(text: str) -> list[str]:
    """The URLs of a message that holds nothing else (a pasted link to ingest); a
    question that mentions a URL is a question."""
    text = text.strip()
    urls = _URL.findall(text)
    rest = _URL.sub(" ", text).strip(" \n\t,;")
    return urls if urls and not rest else []


def plan(files: Sequence[Upload], text: str, s: Settings) -> Plan:
    """What to ingest and what to refuse (with the reason), and the question left over."""
    lim = s.chat
    out = Plan(urls=urls_alone(text))
    out.question = "" if out.urls else text.strip()
    for f in files:
        name = Path(f.name).name or "file"
        suffix = Path(name).suffix.lower()
        if suffix not in ACCEPT:
            kind = f"type {suffix}" if suffix else "a file with no extension"
            out.problems.append(f"{name}: {kind} is not read; drop {' '.join(ACCEPT)} files")
        elif f.path is None or not f.path.is_file():
            out.problems.append(f"{name}: the upload did not arrive; drop it again")
        elif (size := f.path.stat().st_size) > lim.upload_max_mb * 1024 * 1024:
            out.problems.append(
                f"{name}: {size / 1e6:.1f} MB is over the {lim.upload_max_mb:g} MB limit "
                "(chat.upload_max_mb)"
            )
        elif size == 0:
            out.problems.append(f"{name}: the file is empty")
        else:
            out.files.append(Upload(name, f.path, size))
    total = len(out.files) + len(out.urls)
    if total > lim.upload_max_files:
        out.problems.append(
            f"{total} files or links at once; the limit is {lim.upload_max_files} "
            "(chat.upload_max_files): drop fewer"
        )
        out.files, out.urls = [], []
    return out


def uploads_dir(s: Settings) -> Path:
    return Path(s.index.dir) / "uploads" / "chat"


def stage(files: Sequence[Upload], s: Settings) -> list[Path]:
    """Copy the uploads next to the index (a later file of the same name replaces the
    earlier one, as a re-upload of an edited file should)."""
    folder = uploads_dir(s)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        assert f.path is not None
        target = folder / _safe_name(f.name)
        shutil.copyfile(f.path, target)
        out.append(target)
    return out


def _safe_name(name: str) -> str:
    name = Path(name).name.strip().lstrip(".") or "file"
    return re.sub(r"[^\w.\- ]+", "_", name)[:120]


ProgressFn = Callable[[str], None]


def ingest(p: Plan, s: Settings, progress: ProgressFn) -> str:
    """Ingest the planned files and URLs; returns the summary to show (Markdown).
    Raises RagError (one line) when the ingest itself fails."""
    from rag import api

    paths: list[Path | str] = [*stage(p.files, s), *p.urls]
    state = {"total": 0, "done": 0}

    def start(total: int) -> None:
        state["total"] = total
        progress(f"Embedding {total} passage{'s' * (total != 1)}…")

    def advance(n: int) -> None:
        state["done"] += n
        progress(f"Embedding passages: {state['done']} of {state['total']}…")

    what = ", ".join([f.name for f in p.files] + p.urls)
    progress(f"Reading {what}…")
    report = api.ingest(
        paths,
        s,
        progress=api.IngestProgress(on_start=start, on_advance=advance, on_notice=progress),
    )
    return summary(report, p)


def summary(report: object, p: Plan) -> str:
    """'Added: report, page. Skipped notes.csv: …' as Markdown (names and reasons escaped:
    they come from the user's files and the pages fetched)."""
    from rag.api import IngestReport
    from rag.chat.render import md_escape

    assert isinstance(report, IngestReport)
    lines = []
    for label, ids in (
        ("Added", report.added),
        ("Updated", report.updated),
        ("Already in the index", report.unchanged),
    ):
        if ids:
            lines.append(f"**{label}:** " + ", ".join(md_escape(i) for i in ids))
    for x in report.skipped:
        lines.append(f"**Skipped** {md_escape(Path(x.where).name)}: {md_escape(x.reason)}")
    if report.copies:
        n = len(report.copies)
        lines.append(f"{n} {'is a copy' if n == 1 else 'are copies'} of articles already "
                     "in the index: kept as 'also published by', searched once.")  # fmt: skip
    lines += [f"**Not taken** {md_escape(x)}" for x in p.problems]
    if report.chunks_embedded:
        lines.append(f"{report.chunks_embedded} passages embedded in {report.seconds:.1f} s.")
    if report.added or report.updated:
        lines.append("Ask about them now.")
    return "\n\n".join(lines) or "Nothing to add."


def summary_of_refusals(p: Plan) -> str:
    from rag.chat.render import md_escape

    return "\n\n".join(f"**Not taken** {md_escape(x)}" for x in p.problems) or "Nothing to add."
