"""The offline answerer answers the question asked (issue 11's cases, each failing on the
answerer that quoted the nearest sentence): the name, number or Yes/No first, every part
of a compound question, disagreements said, abstention per part on what the articles do
not hold, and never a heading, a date line or a sentence about another subject."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.answer import ABSTAIN_PREFIX
from rag.answer.plan import plan
from rag.eval import metrics
from rag.resources import articles_dir

from .conftest import settings_for, write


def _ask(index: Path, q: str) -> api.Answer:
    return api.Pipeline(settings_for(index)).ask(q)


def _plain(a: api.Answer) -> str:
    return metrics.strip_markers(a.text)


@pytest.mark.parametrize(
    "question",
    ["who requested the lifting of the ban", "Who asked for the ban to be lifted?"],
)
def test_who_questions_name_the_person_first(bundled_index: Path, question: str) -> None:
    a = _ask(bundled_index, question)
    assert not a.abstained, a.text
    assert a.text.startswith("Prosecutor General Igor Krasnov"), a.text
    assert a.citations and a.citations[0].hit.chunk.doc_id == "why-russia-unbanned-the-taliban"


def test_why_answer_gathers_distinct_reasons(bundled_index: Path) -> None:
    a = _ask(bundled_index, "why did Russia lift the ban")
    text = _plain(a).lower()
    assert "security" in text and ("energy" in text or "sanction" in text), a.text
    assert len({c.hit.chunk.doc_id for c in a.citations}) == 2  # both articles
    first = a.text.split("[")[0]
    assert "lifted" not in first  # it leads with a reason, not the event


def _first_sentence(a: api.Answer) -> str:
    return _plain(a).split(". ")[0]


def test_why_a_named_person_objects_is_what_she_says(bundled_index: Path) -> None:
    a = _ask(
        bundled_index,
        "Why does activist Jamila Afghani object to countries normalising relations with the "
        "Taliban?",
    )
    assert "Jamila Afghani" in _first_sentence(a) and "legitimizing" in a.text, a.text
    assert "Galeotti" not in a.text  # reasons of others are not hers


def test_why_a_refusal_takes_its_condition_as_reason(bundled_index: Path) -> None:
    a = _ask(bundled_index, "Why do Western governments refuse to recognise the Taliban?")
    assert "women's rights" in _first_sentence(a), a.text


def test_what_someone_hopes_to_gain_is_a_purpose(bundled_index: Path) -> None:
    a = _ask(
        bundled_index, "What does Moscow hope to gain from normalising relations with the Taliban?"
    )
    assert "intelligence cooperation" in _first_sentence(a), a.text


def test_a_point_that_refers_back_comes_after_what_it_refers_to(bundled_index: Path) -> None:
    # "Yet, unlike those past examples, ..." opens a passage; the examples end the one before
    a = _ask(bundled_index, "What historical examples is Russia's Taliban pivot compared to?")
    text = _plain(a)
    assert "Nixon" in text and "Saudi Arabia" in text, a.text
    assert text.index("Nixon") < text.index("those past examples"), a.text


def test_a_date_from_a_sentence_about_something_else_is_no_disagreement(
    bundled_index: Path,
) -> None:
    # "Taliban-ruled Kabul in 2023" (China's ambassador) is not when the Taliban took power
    a = _ask(bundled_index, "When did the Taliban come to power in Afghanistan?")
    assert a.text.startswith("August 2021"), a.text
    assert "different" not in a.text and "2023" not in a.text, a.text


def test_which_named_role_asks_for_a_person(bundled_index: Path) -> None:
    a = _ask(
        bundled_index,
        "Which exiled Afghan activist criticised the rush to normalise ties with the Taliban?",
    )
    assert a.text.startswith("Jamila Afghani"), a.text
    assert len(a.citations) == 1, a.text  # nothing from the other article


def test_numbers_that_differ_are_both_said(bundled_index: Path) -> None:
    a = _ask(bundled_index, "How many died?")
    assert not a.abstained
    assert "145" in a.text and "140" in a.text, a.text
    assert len({c.hit.chunk.doc_id for c in a.citations}) == 2


def test_do_the_articles_agree_says_no_with_both_figures(bundled_index: Path) -> None:
    a = _ask(bundled_index, "Do the two articles agree on the death toll?")
    assert metrics.first_yes_no(a.text) == "no", a.text
    assert "145" in a.text and "140" in a.text
    assert len(a.citations) == 2


def test_who_is_a_named_person(bundled_index: Path) -> None:
    a = _ask(bundled_index, "Who is Jamila Afghani?")
    assert not a.abstained and "activist" in a.text


def test_every_part_of_a_compound_question_is_answered(bundled_index: Path) -> None:
    a = _ask(bundled_index, "who asked for it, and which country first posted an ambassador?")
    assert "Krasnov" in a.text and "China" in a.text, a.text
    a = _ask(
        bundled_index, "Who asked for the ban to be lifted, and what is the GDP of Afghanistan?"
    )
    assert "Krasnov" in a.text and ABSTAIN_PREFIX in a.text  # the second part is not there


@pytest.mark.parametrize(
    "question",
    [
        "what is the GDP of Afghanistan?",
        "how many Russian soldiers died in Afghanistan in the 1980s?",
        "How many people were injured in the March 2024 concert hall attack?",
        "What is the name of the Chinese ambassador sent to Kabul?",
        "How did the Taliban government react to Russia lifting the ban?",
    ],
)
def test_abstains_when_the_subject_is_not_in_the_articles(
    bundled_index: Path, question: str
) -> None:
    a = _ask(bundled_index, question)
    assert a.abstained, a.text
    assert not a.citations


def test_plan_kinds_and_parts() -> None:
    assert plan("who asked for it, and which country first posted an ambassador?").kind == (
        "compound"
    )
    p = plan("who asked for it, and which country first posted an ambassador?")
    assert [x.kind for x in p.parts] == ["entity", "entity"]
    assert plan("Did TechCrunch report it after The Verge did?").parts[0].flavour == "order"
    assert plan("Do the two articles agree on the death toll?").parts[0].flavour == "agree"
    assert plan("Was it consistent or inconsistent?").parts[0].options == [
        "consistent",
        "inconsistent",
    ]
    assert plan("Why did Russia lift the ban?").kind == "why"
    assert plan("When did the attack happen?").kind == "date"
    assert plan("How many died?").kind == "number"
    assert plan("Summarise the articles").kind == "summary"
    assert plan("What is the latest on the trial?").latest


# --------------------------------------------------------------------------- own corpora


@pytest.fixture(scope="module")
def arden_index(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Path:
    """Two articles: one on a hospital expansion in Arden (no Chen Wei), one where Chen
    Wei speaks about something else; plus a page with a heading and a date line."""
    root = tmp_path_factory.mktemp("arden")
    corpus = root / "corpus"
    write(
        corpus / "arden-hospital.md",
        "---\ntitle: Arden approves hospital expansion\nsource: Coast Herald\n"
        "published_at: 2024-03-02\n---\n\n# Arden council votes\n\nPublished 11 February 2025\n\n"
        "The Arden council approved a 40 million dollar expansion of the St Mary hospital on "
        "Tuesday. The new wing will add 120 beds by 2026, the council said. Residents had "
        "campaigned for the expansion for three years.\n",
    )
    write(
        corpus / "chen-wei-port.md",
        "---\ntitle: Port strike ends after talks\nsource: Metro Daily\n"
        "published_at: 2024-05-10\n---\n\nChen Wei, the union's negotiator, said the strike at "
        "the Lindholm port was over after three days of talks. Chen Wei added that workers won "
        "a 6 percent raise. Ships began unloading again on Friday morning.\n",
    )
    index = root / "index"
    api.ingest([corpus], settings_for(index), encoder=encoder)
    return index


def test_never_joins_two_articles_into_one_claim(arden_index: Path) -> None:
    a = _ask(arden_index, "What did Chen Wei say about the hospital expansion in Arden?")
    docs = {c.hit.chunk.doc_id for c in a.citations}
    assert a.abstained or len(docs) == 1, a.text  # no article has both: no joined claim
    assert a.abstained, a.text


def test_headings_and_date_lines_are_never_quoted(arden_index: Path) -> None:
    for q in ("What did the Arden council vote on?", "When was it published?", "Arden council"):
        a = _ask(arden_index, q)
        assert "Published 11 February" not in a.text
        assert not re.search(r"(^|\s)#\s*Arden", a.text)
        assert "Arden council votes" not in a.text


def test_latest_prefers_the_newest_article_and_says_its_date(arden_index: Path) -> None:
    a = _ask(arden_index, "What is the latest news?")
    assert not a.abstained
    assert a.citations[0].hit.chunk.doc_id == "chen-wei-port"
    assert "2024" in a.text  # the date is said


@pytest.fixture(scope="module")
def outlets_index(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Path:
    root = tmp_path_factory.mktemp("outlets")
    corpus = root / "corpus"
    shutil.copytree(articles_dir(), corpus)
    index = root / "index"
    api.ingest([corpus], settings_for(index), encoder=encoder)
    return index


def test_an_outlet_the_index_does_not_hold_is_not_answered(outlets_index: Path) -> None:
    a = _ask(
        outlets_index,
        "According to a Bloomberg report and a Wall Street Journal article, who asked "
        "for the Taliban ban to be lifted?",
    )
    assert a.abstained, a.text
