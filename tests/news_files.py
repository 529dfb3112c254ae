"""Real news files made in the tests: PDFs (fpdf2), cluttered web pages, wire copies."""

from __future__ import annotations

from pathlib import Path


def make_pdf(
    path: Path,
    pages: list[str],
    *,
    title: str | None = None,
    author: str | None = None,
    heading: str | None = None,
) -> Path:
    """A PDF with a text layer: one page per string (paragraphs split on blank lines)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    for i, text in enumerate(pages):
        pdf.add_page()
        if heading and i == 0:
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 9, heading)
            pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for para in text.split("\n\n"):
            pdf.multi_cell(0, 6, para)
            pdf.ln(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, n_pages: int = 2) -> Path:
    """A PDF whose pages are only pictures (as a scanner makes them): no text layer."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for _ in range(n_pages):
        pdf.add_page()
        pdf.set_fill_color(40, 40, 40)
        for y in range(20, 260, 8):  # grey bars where the lines of text would be
            pdf.rect(20, y, 170, 4, style="F")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
