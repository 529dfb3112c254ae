"""News as it comes: cluttered web pages and PDFs made in the test, read and asked about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.cli import main
from rag.ingest import read_paths
from rag.ingest.html import html_fields

from .conftest import settings_for, write
from .news_files import make_pdf, make_scanned_pdf
from .news_server import article_page

STORY = [
    "The city council of Arden voted on Monday to close the old ferry terminal at the end "
    "of the year, after engineers found cracks in its concrete piers.",
    "Passengers will use a temporary pier north of the harbour until a new terminal opens "
    "in 2028, the council said. The move affects about 4,000 commuters a day.",
    "Opposition councillors said the decision came too late and asked why the inspection "
    "report from 2023 had not been published.",
]


def read(*paths: Path) -> Any:
    return read_paths(list(paths), max_file_mb=50, max_files=1000)


def test_a_cluttered_page_keeps_the_article_and_its_metadata_only(tmp_path: Path) -> None:
    write(tmp_path / "ferry.html", article_page("Arden to close its ferry terminal", STORY))
    (doc,) = read(tmp_path).documents
    assert doc.title == "Arden to close its ferry terminal"  # no " | Metro Daily"
    assert doc.source == "Metro Daily" and doc.published_at == "2026-03-02T08:00:00Z"
    assert doc.extra.get("author") == "Ann Lee"
    for p in STORY:
        assert p in doc.text
    for clutter in ("Phone 15", "Home", "Related", "Celebrity chef", "morning briefing", "©"):
        assert clutter not in doc.text, clutter
    # the selectolax reader (the setting's other value) keeps what it cannot label
    fields = html_fields(article_page("T", STORY), extractor="selectolax")
    assert "Phone 15" in fields["body"]


def test_the_advertised_phone_is_not_an_answer(tmp_path: Path, encoder: Any) -> None:
    """The issue's example: an ad on the page answered "what phone is advertised?"."""
    write(tmp_path / "in" / "ferry.html", article_page("Arden to close its ferry terminal", STORY))
    s = settings_for(tmp_path / "ix")
    api.ingest([tmp_path / "in"], s, encoder=encoder)
    answer = api.Pipeline(s).ask("what phone is advertised?")
    assert "Phone 15" not in answer.text
    assert all("Phone 15" not in h.chunk.text for h in answer.hits)
    answer = api.Pipeline(s).ask("how many commuters does the ferry terminal closure affect?")
    assert "4,000" in answer.text and answer.citations


@pytest.mark.parametrize("tag", ["div", "section", "span", "ul><li", "table><tr><td", "b><i"])
def test_the_main_text_reader_takes_pages_nested_up_to_the_limit(tmp_path: Path, tag: str) -> None:
    """trafilatura walks the tree; at the depth limit (512) it must not hit Python's
    recursion limit. Deeper pages go to the flat reader (test_fuzz: 200,000 deep)."""
    opens = "".join(f"<{t}>" for t in tag.split("><"))
    n = 510 // len(tag.split("><"))
    page = f"<html><head><title>Deep</title></head><body>{opens * n}<p>{STORY[0]}</p></body>"
    write(tmp_path / "deep.html", page)
    r = read(tmp_path)
    assert not r.warnings, r.warnings  # not past the limit: the main-text reader read it
    assert "cracks in its concrete piers" in r.documents[0].text


def test_a_pdf_is_read_page_by_page_and_a_passage_knows_its_page(
    tmp_path: Path, encoder: Any
) -> None:
    filler = " ".join(
        f"Section {i} of the report reviews the harbour's accounts, staffing and "
        "maintenance schedule in detail."
        for i in range(14)
    )
    pages = [
        filler,
        filler.replace("Section", "Part"),
        "The inspection found that the third pier had lost 20 percent of its load capacity. "
        + filler.replace("Section", "Annex"),
    ]
    make_pdf(tmp_path / "in" / "inspection.pdf", pages, title="Arden Harbour Inspection 2023",
             author="Port of Arden")  # fmt: skip
    (doc,) = read(tmp_path / "in").documents
    assert doc.title == "Arden Harbour Inspection 2023" and doc.extra["author"] == "Port of Arden"
    starts = doc.extra["pages"]
    assert len(starts) == 3 and starts[0] == 0
    assert doc.text[starts[2] :].startswith("The inspection found")
    assert "Part 0 of the report" in doc.text[starts[1] : starts[2]]

    s = settings_for(tmp_path / "ix")
    api.ingest([tmp_path / "in"], s, encoder=encoder)
    answer = api.Pipeline(s).ask("How much load capacity did the third pier lose?")
    cited = [c for c in answer.citations if "load capacity" in c.hit.chunk.text]
    assert cited, answer.text
    assert cited[0].page in ("p. 3", "pp. 2–3")
    assert cited[0].to_dict()["page"] == cited[0].page


def test_rag_ask_names_the_page_of_a_pdf_passage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pdf(
        tmp_path / "in" / "memo.pdf",
        [
            "A memo about budgets. " * 40,
            "The ferry contract was signed by Maria Holm, the chief executive of Nordline, "
            "in Arden on 4 May 2026.",
        ],
    )
    assert _cli(capsys, "ingest", str(tmp_path / "in"), "-q")[0] == 0
    code, out, _ = _cli(capsys, "ask", "Who signed the ferry contract?", "--json")
    assert code == 0
    cites = json.loads(out)["citations"]
    assert cites and cites[0]["page"] in ("p. 2", "pp. 1–2"), out
    code, out, _ = _cli(capsys, "ask", "Who signed the ferry contract?")
    assert f"{cites[0]['page']}  (memo)" in out


def test_pdf_title_from_its_first_line_and_bad_pdfs_skipped_with_reasons(tmp_path: Path) -> None:
    make_pdf(tmp_path / "untitled.pdf", ["The first line is short\n\n" + STORY[0]], heading=None)
    make_scanned_pdf(tmp_path / "scan.pdf", 3)
    write(
        tmp_path / "truncated.pdf",
        make_pdf(tmp_path / "x" / "t.pdf", [STORY[1]]).read_bytes()[:300],
    )
    r = read(tmp_path / "untitled.pdf", tmp_path / "scan.pdf", tmp_path / "truncated.pdf")
    assert [d.title for d in r.documents] == ["The first line is short"]
    why = {Path(x.where).name: x.reason for x in r.skipped}
    assert why["scan.pdf"].startswith("PDF with no text layer (3 pages of images")
    assert "OCR" in why["scan.pdf"]
    assert why["truncated.pdf"].startswith("not a readable PDF")


def test_rag_ingest_of_an_unsupported_file_named_explicitly_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path / "data.csv", "a,b\n1,2\n")
    code, out, err = _cli(capsys, "ingest", str(f))
    assert code == 2 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "data.csv" in lines[0] and ".pdf" in lines[0], err
    assert not (tmp_path / "index").exists()  # nothing read, nothing written


def test_unsupported_files_in_a_folder_count_as_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "in" / "a.md", "# A\n\n" + STORY[0])
    write(tmp_path / "in" / "photo.jpg", b"\xff\xd8\xff\xe0 not really")
    write(tmp_path / "in" / "notes", "no extension")
    code, out, err = _cli(capsys, "ingest", str(tmp_path / "in"), "-q")
    assert code == 0 and "1 added" in out and "2 skipped" in out
    assert "photo.jpg: unsupported type .jpg; supported: " in err
    assert "notes: unsupported type (no file extension)" in err


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
