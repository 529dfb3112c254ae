"""Reading files into Documents: formats, ids, metadata, and what gets skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.ingest import read_paths, url_slug

from .conftest import MULTIHOP, ROOT, write


def read(*paths: Path):
    return read_paths(list(paths), max_file_mb=50, max_files=1000)


def test_markdown_front_matter_heading_and_text_first_line(tmp_path: Path) -> None:
    write(
        tmp_path / "a.md",
        '---\ntitle: "Front"\nsource: Reuters\nurl: https://x.org/a\n'
        "published_at: 2024-05-01\nauthor: Ann\n---\n\nBody of a.\n",
    )
    write(tmp_path / "b.md", "# Heading Title\n\nBody of b.\n")
    write(tmp_path / "c.txt", "Plain Title\nBody of c. More text.\n")
    write(tmp_path / "d.txt", "Only one long paragraph of text that ends with a period.\n")
    r = read(tmp_path)
    docs = {d.id: d for d in r.documents}
    assert docs["a"].title == "Front" and docs["a"].source == "Reuters"
    assert docs["a"].url == "https://x.org/a" and docs["a"].published_at == "2024-05-01"
    assert docs["a"].extra == {"author": "Ann"} and docs["a"].text == "Body of a."
    assert (docs["b"].title, docs["b"].text) == ("Heading Title", "Body of b.")
    assert (docs["c"].title, docs["c"].text) == ("Plain Title", "Body of c. More text.")
    assert docs["d"].text.startswith("Only one long paragraph")  # nothing lost to the title
    assert all(d.hash for d in r.documents)


def test_bundled_articles_have_only_stated_metadata() -> None:
    r = read(ROOT / "data" / "articles")
    assert sorted(d.id for d in r.documents) == [
        "russia-lifts-ban-on-taliban",
        "why-russia-unbanned-the-taliban",
    ]
    for d in r.documents:
        assert d.title and d.source is None and d.url is None and d.published_at is None


def test_html_main_text_without_markup(tmp_path: Path) -> None:
    html = """<html><head><title>Page title</title>
    <meta property="og:title" content="Story title">
    <meta property="og:site_name" content="The Daily">
    <meta property="article:published_time" content="2024-03-22T10:00:00Z">
    <link rel="canonical" href="https://daily.example/story">
    <script>var x = "<p>not text</p>";</script><style>p{color:red}</style></head>
    <body><nav>Home | World</nav><article><h1>Story title</h1>
    <p>First <b>bold</b> paragraph.</p><p>Second &amp; last paragraph.</p></article>
    <footer>Copyright</footer></body></html>"""
    write(tmp_path / "story.html", html)
    (doc,) = read(tmp_path).documents
    assert doc.id == "story" and doc.title == "Story title" and doc.source == "The Daily"
    assert doc.url == "https://daily.example/story" and doc.published_at.startswith("2024-03-22")
    assert "First bold paragraph." in doc.text and "Second & last paragraph." in doc.text
    for junk in ("<", "var x", "color", "Home | World", "Copyright"):
        assert junk not in doc.text


def test_json_array_and_jsonl_records(tmp_path: Path) -> None:
    recs = [
        {"title": "One", "body": "Text one.", "source": "S", "url": "https://s.com/one?x=1"},
        {"title": "Two", "text": "Text two.", "published_at": "2023-10-01"},
        {"id": "my-id", "title": "Three", "content": "Text three."},
    ]
    write(tmp_path / "a.json", json.dumps(recs))
    write(
        tmp_path / "b.jsonl",
        json.dumps({"title": "Four", "body": "Text four."})
        + "\n"
        + "{not json\n"
        + json.dumps({"title": "No body"})
        + "\n",
    )
    r = read(tmp_path)
    ids = sorted(d.id for d in r.documents)
    assert ids == ["four", "my-id", "s-com-one", "two"]
    reasons = {x.where.rsplit(":", 1)[-1]: x.reason for x in r.skipped}
    assert "invalid JSON line" in reasons["2"] and "no text" in reasons["3"]


def test_multihop_corpus_loads_as_it_is() -> None:
    r = read(MULTIHOP / "corpus.json")
    assert len(r.documents) == 609 and not r.skipped and not r.warnings
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))
    assert [d.id for d in r.documents] == [url_slug(x["url"]) for x in records]
    d = r.documents[0]
    assert d.source == records[0]["source"] and d.published_at == records[0]["published_at"]
    assert d.extra.get("category") == records[0]["category"]


def test_bad_files_are_skipped_with_reasons_and_the_rest_read(tmp_path: Path) -> None:
    write(tmp_path / "good.md", "# Good\n\nFine text.")
    write(tmp_path / "empty.md", "  \n")
    write(tmp_path / "binary.txt", b"\x00\x01\x02abc" * 100)
    write(tmp_path / "latin1.txt", "Caf\xe9\nLe caf\xe9 au lait co\xfbte 3 €.".encode("cp1252"))
    write(tmp_path / "broken.json", "[{")
    write(tmp_path / "bad-front.md", "---\ntitle: [unclosed\n---\nText kept.")
    write(tmp_path / "broken.pdf", b"%PDF-1.4")
    write(tmp_path / "table.csv", "a,b\n1,2\n")
    write(tmp_path / "noext", "some text")
    r = read(tmp_path)
    assert sorted(d.id for d in r.documents) == ["bad-front", "good", "latin1"]
    why = {Path(x.where).name: x.reason for x in r.skipped}
    assert why["empty.md"] == "empty file"
    assert "binary" in why["binary.txt"]
    assert "invalid JSON" in why["broken.json"]
    assert "not a readable PDF" in why["broken.pdf"]
    for name, kind in (("table.csv", "type .csv"), ("noext", "type (no file extension)")):
        assert why[name].startswith(f"unsupported {kind}; supported: ") and ".pdf" in why[name]
    assert any("front matter ignored" in w.reason for w in r.warnings)
    latin1 = next(d for d in r.documents if d.id == "latin1")  # decoded, not skipped
    assert (latin1.title, latin1.text) == ("Café", "Le café au lait coûte 3 €.")
    assert any(Path(w.where).name == "latin1.txt" and "not UTF-8" in w.reason for w in r.warnings)
    assert r.files == 7  # the two of unsupported types are not read


def test_a_file_of_an_unsupported_type_named_explicitly_fails_naming_the_types(
    tmp_path: Path,
) -> None:
    for name in ("data.csv", "README"):
        f = write(tmp_path / name, "a,b\n")
        with pytest.raises(InputError, match=r"cannot read .*: unsupported type.*: .*\.pdf"):
            read(f)


def test_a_declared_html_charset_wins_over_detection(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1251"><title>Новости</title></head><body>'
    page += "<p>Москва — столица России, сказал он.</p></body></html>"
    write(tmp_path / "ru.html", page.encode("cp1251"))
    (doc,) = read(tmp_path).documents
    assert doc.title == "Новости" and "Москва — столица России" in doc.text


def test_duplicate_ids_are_disambiguated_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "x" / "same.md", "# A\n\nText A.")
    write(tmp_path / "y" / "same.md", "# B\n\nText B.")
    r = read(tmp_path)
    assert sorted(d.id for d in r.documents) == ["same", "y-same"]
    assert any("taken" in w.reason for w in r.warnings)


def test_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"path not found: .*nope"):
        read(tmp_path / "nope")


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "big.txt", "Title\n" + "word " * 300_000)
    r = read_paths([tmp_path], max_file_mb=1, max_files=10)
    assert not r.documents and "larger than 1 MB" in r.skipped[0].reason


def test_deeply_nested_html_is_read_as_flat_text_with_a_warning(tmp_path: Path) -> None:
    deep = "<div>" * 5000 + "<p>Deep &amp; inside.</p><script>evil()</script>" + "</div>" * 5000
    write(tmp_path / "deep.html", f"<html><head><title>Deep</title></head><body>{deep}</body>")
    write(tmp_path / "ok.html", "<html><body>" + "<div>" * 100 + "<p>Shallow.</p></body>")
    r = read(tmp_path)
    docs = {d.id: d for d in r.documents}
    assert docs["deep"].title == "Deep" and docs["deep"].text == "Deep & inside."
    assert docs["ok"].text == "Shallow."
    assert [Path(w.where).name for w in r.warnings] == ["deep.html"]
    assert "nested more than 512" in r.warnings[0].reason


@pytest.mark.parametrize(
    "html",
    [
        "<svg>" * 100_000 + "x",
        "<script>" * 100_000,
        "<title>" * 100_000,
        "<a " * 100_000,
        "<!--" + "x" * 100_000,
        "<div/>" * 100_000 + "<p>Deep text.</p>",
    ],
    ids=["svg", "script", "title", "no-close", "comment", "self-closing-div"],
)
def test_hostile_html_is_read_in_linear_time(tmp_path: Path, html: str) -> None:
    import time

    write(tmp_path / "x.html", html)
    t0 = time.perf_counter()
    r = read(tmp_path)
    assert time.perf_counter() - t0 < 20  # quadratic scans took minutes on these
    assert len(r.documents) + len(r.skipped) == 1
    if r.documents:
        assert "<" not in r.documents[0].text


def test_valid_html_with_implied_end_tags_keeps_its_structure(tmp_path: Path) -> None:
    page = (
        '<html><head><title>T</title><meta property="og:site_name" content="Site">'
        "</head><body><!--" + "<div>" * 600 + "-->"
        "<script>" + '"<div>"' * 600 + "</script>"
        "<ul>" + "<li>item" * 600 + "</ul>" + "<p>para" * 600 + "</body></html>"
    )
    write(tmp_path / "ok.html", page)
    r = read(tmp_path)
    assert not r.warnings, r.warnings  # not mistaken for pathological nesting
    assert r.documents[0].source == "Site" and "item" in r.documents[0].text


def test_flat_reading_keeps_title_and_metadata(tmp_path: Path) -> None:
    head = (
        '<head><title>Plain</title><meta property="og:title" content="OG &amp; Title">'
        '<meta name="date" content="2024-05-01"><link rel="canonical" href="https://e.x/a">'
        '<meta property="og:site_name" content="Site"></head>'
    )
    write(tmp_path / "deep.html", f"<html>{head}<body>{'<div>' * 600}<p>Body.</p></body>")
    d = read(tmp_path).documents[0]
    assert (d.title, d.url, d.published_at, d.source) == (
        "OG & Title", "https://e.x/a", "2024-05-01", "Site",
    )  # fmt: skip
    assert d.text == "Body."


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    write(tmp_path / "win.txt", "Notes\nThe café opened in Zürich.".encode("utf-16"))
    write(tmp_path / "bad16.txt", b"\xff\xfe" + b"\x00\xd8")  # a lone surrogate
    r = read(tmp_path)
    assert [d.text for d in r.documents] == ["The café opened in Zürich."]
    assert "not UTF-16" in r.skipped[0].reason


def test_a_heading_alone_is_no_document_in_any_format(tmp_path: Path) -> None:
    """Found by the fuzz test: an .htm file holding just "# 0" became a document titled
    "0" with no text."""
    write(tmp_path / "h.htm", "# 0")
    write(tmp_path / "r.jsonl", '{"body": "# Only a heading"}\n')
    write(tmp_path / "t.md", "# Only a heading\n")
    r = read(tmp_path)
    assert not r.documents
    assert sorted(Path(x.where.split(":")[0]).name for x in r.skipped) == [
        "h.htm",
        "r.jsonl",
        "t.md",
    ]
