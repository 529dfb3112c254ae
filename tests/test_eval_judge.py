"""The LLM judge and LLM answers in `rag eval`, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from rag.config import LLMSettings
from rag.eval.judge import Judge, JudgeCache, correct_template, judge_settings, support_template
from rag.eval.runner import EvalOptions, run_eval

from .conftest import GOLD, write
from .openai_server import FakeOpenAIServer, RecordedRequest, Reply


def small_gold(tmp_path: Path, ids: tuple[str, ...]) -> Path:
    lines = [x for x in GOLD.read_text(encoding="utf-8").splitlines() if x.strip()]
    return write(
        tmp_path / "gold.jsonl",
        "\n".join(x for x in lines if json.loads(x)["id"] in ids) + "\n",
    )


def make_judge(server: FakeOpenAIServer, tmp_path: Path) -> Judge:
    llm = LLMSettings(model="openai/judge-model", api_base=server.base_url, api_key="sk-test")
    return Judge(judge_settings(llm, "openai/judge-model"), JudgeCache(tmp_path / "cache.sqlite"))


def is_judge(r: RecordedRequest) -> bool:
    return r.model == "judge-model"


def test_prompts_load_with_their_variables() -> None:
    c, s = correct_template(), support_template()
    assert len(c.version) == 12 and c.version != s.version
    text = c.render(question="Q?", answers=["a1", "a2"], answer="cand")
    assert "Q?" in text and "- a1" in text and "- a2" in text and "cand" in text


def test_unparsable_reply_is_retried_once_then_cached(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    j = make_judge(openai_server, tmp_path)
    openai_server.enqueue("Sure! It looks right to me.", '```json\n{"correct": false}\n```')
    v = j.correctness("When?", ["2003"], "In 2005.")
    assert v == {"correct": False, "reason": ""}
    assert len(openai_server.chat_requests) == 2 and j.stats.calls == 2
    body = openai_server.chat_requests[0].json
    assert body["temperature"] == 0 and body["response_format"] == {"type": "json_object"}
    assert "In 2005." in openai_server.chat_requests[0].last_user_text

    again = make_judge(openai_server, tmp_path)  # a new process, the same cache file
    assert again.correctness("When?", ["2003"], "In 2005.") == v
    assert len(openai_server.chat_requests) == 2 and again.stats.cached == 1
    # other inputs are another key
    openai_server.enqueue('{"correct": true, "reason": "same year"}')
    assert again.correctness("When?", ["2003"], "2003, it says.")["correct"] is True
    assert len(openai_server.chat_requests) == 3


def test_gives_up_after_two_bad_replies_and_caches_nothing(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    j = make_judge(openai_server, tmp_path)
    openai_server.enqueue("no json", '{"verdict": "maybe"}')
    assert j.support("The ban was lifted.", "Russia lifted the ban.") is None
    assert j.stats.unparsable == 1 and len(j.cache) == 0
    openai_server.enqueue('{"supported": "yes", "reason": "stated"}')
    assert j.support("The ban was lifted.", "Russia lifted the ban.") == {
        "supported": True,
        "reason": "stated",
    }
    assert len(openai_server.chat_requests) == 3


def test_server_errors_are_retried(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    j = make_judge(openai_server, tmp_path)
    openai_server.enqueue(Reply.server_error(), '{"supported": false}')
    assert j.support("x", "y") == {"supported": False, "reason": ""}
    assert len(openai_server.chat_requests) == 2


def judge_responder(r: RecordedRequest) -> str:
    text = r.last_user_text
    if "You grade answers" in text:
        return json.dumps({"correct": True, "reason": "matches"})
    return json.dumps({"supported": "Russia" in text, "reason": "checked"})


def test_eval_with_judge_caches_so_a_second_run_makes_no_calls(
    openai_server: FakeOpenAIServer, bundled_index: Path, tmp_path: Path
) -> None:
    openai_server.responder = judge_responder
    gold = small_gold(tmp_path, ("q01", "q02", "q05", "q41"))

    def opts(out: str) -> EvalOptions:
        return EvalOptions(
            gold=gold,
            index=bundled_index,
            out=tmp_path / out,
            judge="openai/judge-model",
            judge_api_base=openai_server.base_url,
            judge_cache=tmp_path / "judge.sqlite",
            concurrency=3,
            resamples=100,
        )

    first = run_eval(opts("one"))
    calls = len(openai_server.chat_requests)
    assert calls > 0 and all(is_judge(r) for r in openai_server.chat_requests)
    # one verdict per answered, answerable item and one per (sentence, passage); a pair
    # seen twice in the run (two questions quoting the same sentence) is asked once
    answered = [r for r in first.records if r["gold"]["answers"] and not r["abstained"]]
    pairs = sum(len(r["judge"]["pairs"]) for r in first.records)
    run = first.report["judge_run"]
    assert run["calls"] == calls and run["calls"] + run["cached"] == len(answered) + pairs
    assert first.report["judge"]["correct"] == 1.0
    for r in answered:  # the judge said correct: +1 even where containment says no
        assert r["scores"]["answer"]["crag_score"] == 1.0
    unanswerable = next(r for r in first.records if r["id"] == "q41")
    assert unanswerable["judge"]["correct"] is None  # decided by rule, never by the judge

    second = run_eval(opts("two"))
    assert len(openai_server.chat_requests) == calls  # not one more request
    assert second.report["judge_run"]["calls"] == 0
    assert second.report["judge_run"]["cached"] == len(answered) + pairs
    assert second.report["judge"] == first.report["judge"]
    assert second.report["answer"] == first.report["answer"]


def answer_responder(r: RecordedRequest) -> str | Reply:
    if is_judge(r):
        text = r.last_user_text
        if "You grade answers" in text:
            return '{"correct": false, "reason": "not the gold answer"}'
        return '{"supported": true}'
    q = r.last_user_text.rsplit("Question:", 1)[-1]
    usage = {"prompt_tokens": 100, "completion_tokens": 7}
    if "What year" in q:
        return Reply("2003 [1].", usage=usage)
    if "hearing" in q:
        return Reply("The indexed articles don't say when the hearing was.", usage=usage)
    return Reply("Moscow's stance is driven by growing security concerns [1][9].", usage=usage)


def test_llm_answers_usage_validity_and_judge_rules(
    openai_server: FakeOpenAIServer,
    bundled_index: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_LLM__API_BASE", openai_server.base_url)
    monkeypatch.setenv("RAG_LLM__API_KEY", "sk-test")
    openai_server.responder = answer_responder
    gold = small_gold(tmp_path, ("q01", "q03", "q41"))
    res = run_eval(
        EvalOptions(
            gold=gold,
            index=bundled_index,
            out=tmp_path / "run",
            model="openai/test-model",
            judge="openai/judge-model",
            resamples=100,
        )
    )
    by = {r["id"]: r for r in res.records}
    answers = [r for r in openai_server.chat_requests if not is_judge(r)]
    judged = [r for r in openai_server.chat_requests if is_judge(r)]
    assert len(answers) == 3
    # q03 matches exactly: correct without a judge call; q01 contains the alias but the
    # judge says wrong; q41 abstains (right for an unanswerable question): no calls
    correctness = [r for r in judged if "You grade answers" in r.last_user_text]
    assert len(correctness) == 1 and "Why did Russia lift" in correctness[0].last_user_text
    assert by["q03"]["scores"]["answer"]["exact_match"] == 1.0
    assert by["q03"]["scores"]["answer"]["crag_score"] == 1.0
    assert by["q01"]["scores"]["answer"]["containment"] == 1.0
    assert by["q01"]["scores"]["answer"]["crag_score"] == -1.0
    assert by["q41"]["abstained"] and by["q41"]["scores"]["answer"]["crag_score"] == 1.0
    # q01's raw text cites [1] and [9] with 5 passages shown: validity 1/2
    assert by["q01"]["scores"]["citations"]["validity"] == 0.5
    assert by["q01"]["answer"] == "Moscow's stance is driven by growing security concerns [1]."
    # support: one pair each for q01 and q03
    assert len(judged) - len(correctness) == 2
    assert res.report["judge"]["support"] == 1.0
    # tokens summed over the answers; the fake model has no price
    assert res.report["usage"] == {
        "prompt_tokens": 300,
        "completion_tokens": 21,
        "cost_usd": None,
    }
    assert res.report["answer"]["crag_score"] == pytest.approx(1 / 3, abs=1e-4)


def test_llm_calls_are_bounded_by_concurrency(
    openai_server: FakeOpenAIServer,
    bundled_index: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_LLM__API_BASE", openai_server.base_url)
    monkeypatch.setenv("RAG_LLM__API_KEY", "sk-test")
    lock = threading.Lock()
    active = {"now": 0, "max": 0}

    def slow(r: RecordedRequest) -> str:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        time.sleep(0.4)
        with lock:
            active["now"] -= 1
        return "Security concerns [1]."

    openai_server.responder = slow
    gold = small_gold(tmp_path, ("q01", "q02", "q03", "q04", "q05", "q06"))
    res = run_eval(
        EvalOptions(
            gold=gold,
            index=bundled_index,
            out=tmp_path / "run",
            model="openai/test-model",
            concurrency=2,
            resamples=20,
        )
    )
    assert len(res.records) == 6 and len(openai_server.chat_requests) == 6
    assert 1 <= active["max"] <= 2
