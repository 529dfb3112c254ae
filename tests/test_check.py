"""The support check (rag.check) on real drafts: the bundled index, the real encoder, and
model replies from a real OpenAI-compatible HTTP server on 127.0.0.1, streamed and not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.check import CheckParams, check_draft
from rag.cli import main
from rag.types import Answer, Hit

from .conftest import settings_for
from .openai_server import FakeOpenAIServer, Reply

QUESTION = "why did Russia lift the ban"


def _pipeline(index: Path, server: FakeOpenAIServer, **check: Any) -> api.Pipeline:
    s = settings_for(
        index,
        llm={
            "model": "openai/test-model",
            "api_base": server.base_url,
            "api_key": "sk-test-1234567",
            "max_retries": 0,
            "timeout_s": 20,
        },
        check=check,
    )
    return api.Pipeline(s)


def _ask(p: api.Pipeline, stream: bool) -> tuple[Answer, list[str]]:
    events = list(p.ask_stream(QUESTION, stream=stream))
    deltas = [e.text for e in events if isinstance(e, api.Delta)]
    final = events[-1]
    assert isinstance(final, api.Final)
    return final.answer, deltas


def _holding(a: Answer, phrase: str) -> str:
    """The shown passage (chunk id) that holds `phrase` (the test assumes no ranking)."""
    found = [h.chunk.id for h in a.hits if phrase in h.chunk.text]
    assert found, f"no shown passage holds {phrase!r}"
    return found[0]


def _cited_hits(a: Answer, sentence_start: str) -> list[str]:
    """Chunk ids the sentence starting with `sentence_start` cites."""
    by_n = {c.n: c.hit.chunk.id for c in a.citations}
    s = next(x for x in a.sentences if x.text.startswith(sentence_start))
    return [by_n[n] for n in s.citations]


@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_without_markers_gets_cited(
    bundled_index: Path, openai_server: FakeOpenAIServer, stream: bool
) -> None:
    reply = (
        "Russia lifted the ban after a closed-door Supreme Court hearing. "
        "The request came from Prosecutor General Igor Krasnov. "
        "Russian policymakers see Afghanistan as a prime artery for energy exports."
    )
    openai_server.enqueue(Reply(text=reply, chunk_size=5))
    a, deltas = _ask(_pipeline(bundled_index, openai_server), stream)
    if stream:
        assert len(deltas) > 5 and "".join(deltas).strip() == reply  # the draft as it came
    assert a.raw_text == reply
    assert [s.supported for s in a.sentences] == [True, True, True]
    assert _cited_hits(a, "Russia lifted") == [_holding(a, "closed-door Supreme Court")]
    assert _cited_hits(a, "The request") == [_holding(a, "Igor Krasnov")]
    assert _cited_hits(a, "Russian policymakers") == [_holding(a, "prime artery")]
    assert a.text.count("[") == 3 and a.text.endswith("energy exports [2].")
    for c in a.citations:  # each citation highlights the sentence that supports it
        assert c.quotes and all(c.hit.chunk.start <= s < e <= c.hit.chunk.end for s, e in c.quotes)


@pytest.mark.parametrize("stream", [True, False])
def test_wrong_markers_move_to_the_passage_that_supports_them(
    bundled_index: Path, openai_server: FakeOpenAIServer, stream: bool
) -> None:
    p = _pipeline(bundled_index, openai_server)
    hits = p.retrieve(QUESTION)
    krasnov = next(i for i, h in enumerate(hits, 1) if "Igor Krasnov" in h.chunk.text)
    putin = next(i for i, h in enumerate(hits, 1) if "Vladimir Putin" in h.chunk.text)
    wrong = next(i for i in range(1, 6) if i not in (krasnov, putin))
    reply = (
        f"Prosecutor General Igor Krasnov initiated the request [{wrong}]. "
        f"Putin called the Taliban an ally in the fight against terrorism [{krasnov}][{putin}]."
    )
    openai_server.enqueue(Reply(text=reply, chunk_size=7))
    a, _ = _ask(p, stream)
    assert all(s.supported for s in a.sentences)
    ids = [h.chunk.id for h in hits]
    assert _cited_hits(a, "Prosecutor") == [ids[krasnov - 1]]
    assert _cited_hits(a, "Putin") == [ids[putin - 1]]  # the unsupported [krasnov] dropped
    assert a.text.startswith("Prosecutor General Igor Krasnov initiated the request [1].")
    assert [c.hit.chunk.id for c in a.citations] == [ids[krasnov - 1], ids[putin - 1]]


@pytest.mark.parametrize("stream", [True, False])
def test_a_made_up_sentence_is_flagged_or_dropped(
    bundled_index: Path, openai_server: FakeOpenAIServer, stream: bool
) -> None:
    made_up = "The decision was signed by President Joe Biden in Geneva"
    reply = f"Russia has officially lifted its ban on the Taliban [2]. {made_up} [2]."
    openai_server.enqueue(Reply(text=reply, chunk_size=6))
    a, _ = _ask(_pipeline(bundled_index, openai_server), stream)
    first, second = a.sentences
    assert first.supported and first.citations == [1]
    assert not second.supported and second.claim and second.citations == []
    assert a.text == f"Russia has officially lifted its ban on the Taliban [1]. {made_up}."
    assert a.text[second.start : second.end] == made_up + "."

    openai_server.enqueue(Reply(text=reply, chunk_size=6))
    a, _ = _ask(_pipeline(bundled_index, openai_server, unsupported="drop"), stream)
    assert a.text == "Russia has officially lifted its ban on the Taliban [1]."
    assert [s.supported for s in a.sentences] == [True] and not a.abstained


@pytest.mark.parametrize("stream", [True, False])
def test_a_changed_number_is_not_supported(
    bundled_index: Path, openai_server: FakeOpenAIServer, stream: bool
) -> None:
    reply = (
        "A March 2024 attack on a concert hall near Moscow killed 154 people [2]. "
        "The Taliban took power in August 2021 [2]."
    )
    openai_server.enqueue(Reply(text=reply, chunk_size=4))
    a, _ = _ask(_pipeline(bundled_index, openai_server), stream)
    wrong, right = a.sentences
    assert not wrong.supported and wrong.citations == []
    assert right.supported and _cited_hits(a, "The Taliban") == [_holding(a, "August 2021")]
    assert "154 people." in a.text  # kept, unmarked in the text; flagged in `sentences`

    openai_server.enqueue(Reply(text=reply.replace("154", "145"), chunk_size=4))
    a, _ = _ask(_pipeline(bundled_index, openai_server), stream)
    assert [s.supported for s in a.sentences] == [True, True]


def test_when_nothing_is_supported_and_drop_is_set_the_answer_abstains(
    bundled_index: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue("The ban was lifted because of a football match in Brazil [1].")
    a = _pipeline(bundled_index, openai_server, unsupported="drop").ask(QUESTION)
    assert a.abstained and a.citations == [] and a.text.startswith("The indexed articles")


# --------------------------------------------------------------------------- the check itself


@pytest.fixture(scope="module")
def shown(bundled_index: Path) -> tuple[list[Hit], Any]:
    p = api.Pipeline(settings_for(bundled_index))
    return p.retrieve(QUESTION), p.retriever().embed_queries


def test_composed_sentences_keep_their_claims_apart(shown: tuple[list[Hit], Any]) -> None:
    hits, embed = shown
    a = next(i for i, h in enumerate(hits, 1) if "145 people" in h.chunk.text)
    rest = [i for i in range(1, 6) if i != a]
    draft = f"Yes. 145 people died [{a}]; the other article says over 140 [{rest[0]}]."
    c = check_draft(draft, hits, embed=embed)
    yes, claim = c.sentences
    assert not yes.claim and yes.supported and yes.citations == []
    # "over 140" is in no shown passage here: that claim loses its marker, the sentence
    # is unsupported; the 145 claim keeps its own
    if not any("over 140" in h.chunk.text for h in hits):
        assert not claim.supported and claim.citations == [1]
        assert c.text == "Yes. 145 people died [1]; the other article says over 140."


def test_a_sentence_the_usable_predicate_rejects_never_supports(
    shown: tuple[list[Hit], Any],
) -> None:
    hits, embed = shown
    k = next(i for i, h in enumerate(hits, 1) if "Igor Krasnov" in h.chunk.text)
    draft = f"The request was initiated by Prosecutor General Igor Krasnov [{k}]."
    assert check_draft(draft, hits, embed=embed).sentences[0].supported

    def no_krasnov(chunk: Any, span: tuple[int, int]) -> bool:
        return "Krasnov" not in chunk.text[span[0] - chunk.start : span[1] - chunk.start]

    c = check_draft(draft, hits, embed=embed, usable=no_krasnov)
    assert not c.sentences[0].supported and c.order == []


def test_a_stricter_threshold_flags_a_loose_paraphrase(shown: tuple[list[Hit], Any]) -> None:
    hits, embed = shown
    draft = "Security worries about militants drove Moscow's new stance."
    assert check_draft(draft, hits, embed=embed).sentences[0].supported
    strict = check_draft(draft, hits, embed=embed, params=CheckParams(threshold=0.99))
    assert not strict.sentences[0].supported


# --------------------------------------------------------------------------- faces


def test_cli_json_has_the_sentences_and_text_marks_unsupported(
    capsys: pytest.CaptureFixture[str],
    bundled_index: Path,
    openai_server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_LLM__API_BASE", openai_server.base_url)
    monkeypatch.setenv("RAG_LLM__API_KEY", "sk-test-1234567")
    reply = "Russia has officially lifted its ban on the Taliban. It was paid 9 billion euros."
    args = ["ask", QUESTION, "--index", str(bundled_index), "--model", "openai/test-model"]
    openai_server.enqueue(reply)
    main([*args, "--json"])
    d = json.loads(capsys.readouterr().out)
    assert [(s["supported"], s["citations"]) for s in d["sentences"]] == [(True, [1]), (False, [])]
    assert {"text", "citations", "supported", "score"} <= set(d["sentences"][0])
    assert d["answer"] == "Russia has officially lifted its ban on the Taliban [1]. " + reply[53:]

    openai_server.enqueue(reply)
    main(args)
    out = capsys.readouterr().out
    assert out.startswith(
        "Russia has officially lifted its ban on the Taliban [1]. "
        "It was paid 9 billion euros. [unsupported]\n"
    )
    assert out.count("It was paid") == 1  # piped: only the checked answer, no draft
    assert "\n[unsupported]: no passage shown supports that sentence." in out


def test_rag_eval_reports_the_share_of_supported_sentences(
    bundled_index: Path, tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    from rag.eval.runner import EvalOptions, run_eval

    gold = tmp_path / "gold.jsonl"
    rows = [
        {"id": "a", "question": "Who asked for the ban to be lifted?", "answers": ["Krasnov"]},
        {"id": "b", "question": "What did Putin call the Taliban?", "answers": ["ally"]},
    ]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # two LLM answers: 2 of 3 claims supported, then 1 of 1
    openai_server.enqueue(
        "Prosecutor General Igor Krasnov initiated the request. Lavrov signed it in Paris.",
        "Putin referred to the Taliban as an ally in the global fight against terrorism.",
    )
    s_env = {"RAG_LLM__API_BASE": openai_server.base_url, "RAG_LLM__API_KEY": "sk-test-1234567"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in s_env.items():
            mp.setenv(k, v)
        res = run_eval(
            EvalOptions(
                gold=gold,
                index=bundled_index,
                out=tmp_path / "run",
                model="openai/test-model",
                resamples=20,
                concurrency=1,
            )
        )
    items = {
        json.loads(x)["id"]: json.loads(x)
        for x in (tmp_path / "run" / "items.jsonl").read_text().splitlines()
    }
    assert items["a"]["scores"]["support"]["supported"] == 0.5
    assert items["b"]["scores"]["support"]["supported"] == 1.0
    assert [x["supported"] for x in items["a"]["sentences"]] == [True, False]
    assert res.report["support"]["supported"] == 0.75


def test_a_flagged_sentence_never_counts_as_support(shown: tuple[list[Hit], Any]) -> None:
    import dataclasses

    hits, embed = shown
    k = next(i for i, h in enumerate(hits, 1) if "Igor Krasnov" in h.chunk.text)
    draft = f"The request was initiated by Prosecutor General Igor Krasnov [{k}]."
    c = hits[k - 1].chunk
    s, e = next(sp for sp in c.sentences if "Krasnov" in c.text[sp[0] - c.start : sp[1] - c.start])
    marked = dataclasses.replace(c, flags=[(s, e, 0.9, "test: an order to AI readers")])
    with_flag = [
        dataclasses.replace(h, chunk=marked) if i == k else h for i, h in enumerate(hits, 1)
    ]
    assert check_draft(draft, hits, embed=embed).sentences[0].supported
    out = check_draft(draft, with_flag, embed=embed)
    assert not out.sentences[0].supported and out.order == []


def test_a_verify_model_decides_and_its_verdicts_are_cached(
    bundled_index: Path, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    verdict = {"reply": "NO"}
    openai_server.responder = lambda req: verdict["reply"]
    s = settings_for(
        bundled_index,
        check={
            "verify_model": "openai/verifier",
            "verify_api_base": openai_server.base_url,
            "verify_cache": str(tmp_path / "verify.sqlite"),
        },
    )
    a = api.Pipeline(s).ask("Who initiated the request to lift the ban?")  # the offline answerer
    assert a.sentences and not any(x.supported for x in a.sentences if x.claim)
    asked = [r for r in openai_server.chat_requests if r.model == "verifier"]
    assert asked and "Answer YES or NO" in asked[0].messages[0]["content"]
    n = len(openai_server.chat_requests)

    again = api.Pipeline(s).ask("Who initiated the request to lift the ban?")
    assert len(openai_server.chat_requests) == n  # every verdict came from the cache
    assert [x.supported for x in again.sentences] == [x.supported for x in a.sentences]

    verdict["reply"] = "YES"
    s2 = s.model_copy(
        update={"check": s.check.model_copy(update={"verify_cache": tmp_path / "other.sqlite"})}
    )
    yes = api.Pipeline(s2).ask("Who initiated the request to lift the ban?")
    assert all(x.supported and x.citations for x in yes.sentences if x.claim)


def test_a_short_claim_whose_words_and_number_are_in_one_sentence_is_supported(
    shown: tuple[list[Hit], Any],
) -> None:
    hits, embed = shown
    a = next(i for i, h in enumerate(hits, 1) if "145 people" in h.chunk.text)
    c = check_draft(f"145 people died [{a}].", hits, embed=embed)
    assert c.sentences[0].supported and c.sentences[0].citations == [1], c.sentences
    # the same words with a number the sentence does not hold are not
    c = check_draft(f"154 people died [{a}].", hits, embed=embed)
    assert not c.sentences[0].supported, c.sentences
