"""rag.chat.render: what the chat shows, from real answers of the core (no browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import api
from rag.chat import render, welcome
from rag.chat.render import WJ, md_escape
from rag.types import Answer

from .conftest import settings_for

DEMO = "Why did Russia lift the ban on the Taliban?"
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [click](https://evil.example/a) "
    "![px](https://evil.example/p.png) https://evil.example/b www.evil.example a@evil.example "
    "*bold* # head `code` | table | 1. item &amp; \\[1\\]"
)


@pytest.fixture(scope="module")
def pipeline(bundled_index: Path) -> api.Pipeline:
    return api.Pipeline(settings_for(bundled_index))


@pytest.fixture(scope="module")
def demo_answer(pipeline: api.Pipeline) -> Answer:
    return pipeline.ask(DEMO)


# --------------------------------------------------------------------------- escaping


def test_escape_leaves_no_markup() -> None:
    out = md_escape(HOSTILE)
    assert "<" not in out.replace("\\<", "")
    assert "](" not in out and "![" not in out
    # GFM autolinks run on the decoded text: the word joiner breaks them
    assert f"https\\:{WJ}\\/\\/evil" in out
    assert f"www{WJ}\\.evil" in out
    assert f"a{WJ}\\@evil" in out
    # what the reader sees (escapes and word joiners gone) is the original text
    assert out.replace(WJ, "").replace("\\", "") == HOSTILE.replace("\\", "")


def test_no_zero_width_space() -> None:
    # chainlit uses U+200B as its streaming cursor placeholder
    assert "\u200b" not in md_escape(HOSTILE)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("htps:/w.@[]1<> \r\nab")), max_size=60),
    size=st.integers(min_value=1, max_value=7),
)
def test_stream_escaper_equals_whole_text(text: str, size: int) -> None:
    esc = render.StreamEscaper()
    out = "".join(esc.feed(text[i : i + size]) for i in range(0, len(text), size))
    assert out + esc.flush() == md_escape(text)


def test_render_answer_puts_back_only_valid_markers() -> None:
    out = render.render_answer("A [1] b [2] c [9] <b>x</b> [click](http://e.x)", [1, 2])
    assert "A [1] b [2] c \\[9\\]" in out
    assert "\\<b\\>" in out and "\\[click\\]\\(" in out


def test_cited_numbers_in_order_of_first_use() -> None:
    assert render.cited_numbers("x [2] y [1] z [2] [10]") == [2, 1, 10]


def test_safe_url_and_dates() -> None:
    assert render.safe_url("javascript:alert(1)") is None
    assert render.safe_url("data:text/html,x") is None
    assert render.safe_url("https://x.org/a") == "https://x.org/a"
    assert render.safe_url(None) is None
    assert render.format_date("2025-04-18T09:30:00Z") == "18 Apr 2025"
    assert render.format_date("2024-03-01") == "1 Mar 2024"
    assert render.format_date("spring 2024") == "spring 2024"
    assert render.format_date(None) == ""


# --------------------------------------------------------------------------- answers


def test_answer_markdown_from_a_real_answer(demo_answer: Answer) -> None:
    cites = render.cited(demo_answer)
    assert cites and not demo_answer.abstained
    md = render.answer_markdown(demo_answer)
    body, _, sources = md.partition("**Sources**")
    # every cited marker is clickable in the text and listed once under Sources
    for c in cites:
        assert render.element_name(c.n) in body
        assert sources.count(render.element_name(c.n)) == 1
        assert md_escape(c.hit.doc.title) in sources
    # only what was cited: hits that were shown but not cited are not listed
    uncited = {h.doc.title for h in demo_answer.hits} - {c.hit.doc.title for c in cites}
    for title in uncited:
        assert md_escape(title) not in sources


def test_citation_props_locate_the_cited_sentences(demo_answer: Answer) -> None:
    for c in render.cited(demo_answer):
        props = render.citation_props(c)
        json.dumps(props)  # what chainlit stores in elements.props
        ch = c.hit.chunk
        assert props["passage"] == ch.text and props["start"] == ch.start
        assert props["title"] == c.hit.doc.title and props["doc_id"] == ch.doc_id
        assert props["highlights"], "the offline answerer knows the quoted sentences"
        quoted = [ch.text[qs - ch.start : qe - ch.start] for qs, qe in c.quotes]
        shown = [ch.text[s:e] for s, e in props["highlights"]]
        assert shown == quoted
        # the quoted sentence is what the answer says (minus its marker; the answerer may
        # drop a lead-in such as "Fast-forward to today:")
        said = " ".join(demo_answer.text.split())
        assert any(" ".join(q.split()[-8:]).rstrip(".") in said for q in quoted), quoted


def test_highlights_are_clipped_sorted_and_merged() -> None:
    assert render._spans([(30, 40), (5, 12), (10, 15), (90, 200)], 0, 100) == [
        [5, 15],
        [30, 40],
        [90, 100],
    ]
    assert render._spans([(0, 5)], 10, 50) == []  # before the passage


def test_abstention_has_no_sources(pipeline: api.Pipeline) -> None:
    a = pipeline.ask("Who won the 1998 chess olympiad?")
    assert a.abstained
    md = render.answer_markdown(a)
    assert "Sources" not in md and render.cited(a) == []
    assert md == md_escape(a.text)  # said once, in its own words


def test_hostile_metadata_is_escaped_in_sources(demo_answer: Answer) -> None:
    c = render.cited(demo_answer)[0]
    c.hit.doc.title = "<img src=x onerror=alert(1)> [x](https://evil.example)"
    c.hit.doc.url = "javascript:alert(1)"
    src = render.sources_block([c])
    assert "<img" not in src.replace("\\<img", "") and "](" not in src
    assert render.citation_props(c)["url"] is None


def test_footer_shows_what_was_searched_only_when_it_differs() -> None:
    same = render.footer("offline", 5, 1.23, "why  now?", "why now?")
    assert "model: offline · top-k: 5 · 1.2 s" in same and "searched" not in same
    other = render.footer("offline", 5, 1.0, "and critics?", "and critics? (context: why)")
    assert "searched for: and critics\\? \\(context\\: why\\)" in other


def test_error_markdown_is_one_escaped_line() -> None:
    md = render.error_markdown("model x at http://127.0.0.1:9/v1 failed\n(<b>500</b>)")
    assert md.startswith("**Sorry, I couldn't answer that.**")
    assert "\n" not in md and "\\<b\\>" in md and f"http\\:{WJ}\\/\\/" in md
    assert "logged" in render.error_markdown(None)


# --------------------------------------------------------------------------- welcome


def test_welcome_from_describe(pipeline: api.Pipeline) -> None:
    info = pipeline.describe()
    text = welcome.welcome_markdown(info)
    assert info["documents"] == 2
    assert f"**2 articles** ({info['chunks']} passages) loaded" in text
    assert "publication dates are not given" in text
    assert "offline answerer" in text


def test_welcome_variants() -> None:
    base = {"documents": 1, "chunks": 1, "model": "openai/gpt-4o-mini"}
    one = welcome.welcome_markdown({**base, "first_published": "2024-03-01"})
    assert "**1 article** (1 passage)" in one and "published 1 Mar 2024" in one
    assert md_escape("openai/gpt-4o-mini") in one
    span = {**base, "first_published": "2024-03-01", "last_published": "2025-04-18"}
    assert "published 1 Mar 2024 – 18 Apr 2025" in welcome.welcome_markdown(span)
    assert "No articles" in welcome.welcome_markdown({"documents": 0, "chunks": 0})
    err = welcome.welcome_markdown(None, "no index at /x; build it with `rag ingest`")
    assert "could not be loaded" in err and "\\`rag ingest\\`" in err


# --------------------------------------------------------------------------- resume


def test_history_from_steps_keeps_answered_questions_only() -> None:
    steps = [
        {"type": "run", "output": ""},
        {"type": "user_message", "output": "why?"},
        {"type": "assistant_message", "metadata": json.dumps({"answer_text": "Because [1]."})},
        {"type": "user_message", "output": "and then?"},
        {"type": "assistant_message", "isError": True, "metadata": {"error": True}},
        {"type": "user_message", "output": "who?"},
        {"type": "assistant_message", "metadata": {"answer_text": "Them [1]."}},
    ]
    assert render.history_from_steps(steps) == [
        {"role": "user", "content": "why?"},
        {"role": "assistant", "content": "Because [1]."},
        {"role": "user", "content": "who?"},
        {"role": "assistant", "content": "Them [1]."},
    ]


def test_parse_element_props() -> None:
    els = [{"props": '{"n": 1}'}, {"props": {"n": 2}}, {"props": "not json"}, {}]
    render.parse_element_props(els)
    assert els == [{"props": {"n": 1}}, {"props": {"n": 2}}, {"props": {}}, {}]


def test_unsupported_sentences_get_a_style_and_a_tooltip() -> None:
    from rag.types import SentenceCheck

    text = "Russia lifted the ban [1]. It was paid [2] billion. Fine."
    a = Answer(
        question="q",
        text=text,
        citations=[],
        hits=[],
        abstained=False,
        model="m",
        sentences=[
            SentenceCheck("Russia lifted the ban.", [1], True, 0.9, True, 0, 26),
            SentenceCheck("It was paid billion.", [], False, 0.2, True, 27, 51),
            SentenceCheck("Fine.", [], True, 1.0, False, 52, 57),
        ],
    )
    md = render._with_unsupported(a, [1])
    assert md.startswith(r"Russia lifted the ban [1]\. [It was paid \[2\] billion\.](#unsupported ")
    assert f'"{render.UNSUPPORTED_TIP}")' in md and md.endswith(" Fine\\.")
    assert md.count("](#unsupported") == 1  # the framing word is no claim


# --------------------------------------------------------------------------- newcomer fixes


def test_sources_tell_two_passages_of_one_article_apart(demo_answer: Answer) -> None:
    cites = render.cited(demo_answer)
    titles = [c.hit.doc.title for c in cites]
    assert len(set(titles)) < len(titles), "the demo answer cites one article twice"
    lines = render.sources_block(cites).splitlines()[4:]
    for c, line in zip(cites, lines, strict=True):
        repeated = titles.count(c.hit.doc.title) > 1
        assert ("“" in line) == repeated, line  # a hint only where it is needed
    hints = [line.rpartition(" — ")[2] for c, line in zip(cites, lines, strict=True)]
    dup = [h for c, h in zip(cites, hints, strict=True) if titles.count(c.hit.doc.title) > 1]
    assert len(set(dup)) == len(dup)
    for c in cites:
        ch = c.hit.chunk
        qs, qe = min(c.quotes)
        first = ch.text[qs - ch.start : qe - ch.start].strip(' "“”‘’').split()[0]
        assert render.passage_hint(c).startswith("“" + first.replace('"', "’")[:3])


def test_starters_are_the_newest_titles() -> None:
    rows = [
        {"title": "Old news", "published_at": "2020-01-01"},
        {"title": "Undated story", "published_at": None},
        {"title": "Fresh news with a “quoted” phrase", "published_at": "2025-04-18T09:00:00Z"},
        {"title": "fresh news with a “quoted” phrase", "published_at": "2024-01-01"},  # same
        {"title": "Middle " + "very " * 30 + "long", "published_at": "2024-06-01"},
        {"title": "", "published_at": "2026-01-01"},
    ]
    qs = welcome.starter_questions(rows)
    assert [q["message"] for q in qs] == [
        "What does “Fresh news with a ‘quoted’ phrase” say?",
        "What does “Middle " + "very " * 30 + "long” say?",
        "What does “Old news” say?",
        "What does “Undated story” say?",
    ]
    assert all(len(q["label"]) <= len("What does “” say?") + 56 for q in qs)
    assert qs[1]["label"].endswith("…” say?")
    assert welcome.starter_questions([]) == []
    assert len(welcome.starter_questions(rows, limit=2)) == 2
