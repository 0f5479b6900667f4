"""LLMJudgeResource against a real OpenAI-compatible server on 127.0.0.1."""

import logging

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.quality.judge import RUBRIC_VERSION, cache_key
from feedback_assets.domain.quality.quality import apply_judge, score_batch
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets_tests.openai_server import OpenAICompatServer

CHAT = "/v1/chat/completions"


class DictCache:
    def __init__(self):
        self.rows: dict[str, dict] = {}
        self.gets = 0

    def get_many(self, keys):
        self.gets += 1
        return {k: self.rows[k] for k in keys if k in self.rows}

    def put_many(self, rows):
        self.rows.update(rows)


def items(n: int, prefix: str = "e") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"{prefix}{i}" for i in range(n)],
            "prompt": [f"question {i}?" for i in range(n)],
            "response": [f"answer number {i} with enough words to read" for i in range(n)],
        }
    )


@pytest.fixture
def server():
    with OpenAICompatServer() as srv:
        yield srv


def judge(server, **kw) -> LLMJudgeResource:
    cfg = dict(
        enabled=True,
        base_url=server.base_url,
        api_key="sk-secret-value",
        model="judge-model",
        sample_rate=1.0,
        max_concurrency=4,
        max_retries=3,
        timeout_s=2.0,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    cfg.update(kw)
    return LLMJudgeResource(**cfg)


def test_disabled_makes_no_calls_and_scores_absent(server):
    run = LLMJudgeResource(base_url=server.base_url).judge(items(5), DictCache())
    assert server.calls(CHAT) == 0
    assert run.results["judge_status"].eq("disabled").all()
    assert run.results["judge_score"].isna().all()


def test_normal_answers_scored_and_cached(server):
    cache = DictCache()
    res = judge(server)
    run = res.judge(items(6), cache)
    r = run.results
    assert list(r["event_id"]) == [f"e{i}" for i in range(6)]
    assert r["judge_status"].eq("ok").all()
    assert r["judge_score"].tolist() == [0.75] * 6  # default answer: score 4 of 1-5
    assert r["judge_passed"].tolist() == [True] * 6
    assert run.calls == 6 and server.calls(CHAT) == 6 and run.tokens > 0
    req = server.requests[0]
    assert req["json"]["model"] == "judge-model"
    assert RUBRIC_VERSION in req["json"]["messages"][0]["content"]
    assert req["headers"]["authorization"] == "Bearer sk-secret-value"
    key = cache_key("question 0?", items(1)["response"][0], RUBRIC_VERSION, "judge-model")
    assert cache.rows[key]["score"] == 0.75
    # the re-run pays nothing: zero HTTP calls, all from cache
    run2 = res.judge(items(6), cache)
    assert server.calls(CHAT) == 6 and run2.calls == 0 and run2.cache_hits == 6
    assert run2.results["judge_status"].eq("cached").all()
    assert run2.results["judge_score"].tolist() == [0.75] * 6
    # a different model is a different cache key
    judge(server, model="other").judge(items(1), cache)
    assert server.calls(CHAT) == 7


def test_429_then_success_is_retried(server):
    server.script("POST", CHAT, [(429, {"error": {"message": "slow down"}}, 0.0)] * 2)
    run = judge(server, max_concurrency=1).judge(items(1), DictCache())
    assert run.results["judge_status"].tolist() == ["ok"]
    assert run.retries == 2 and run.requests == 3 and server.calls(CHAT) == 3


def test_500s_exhaust_retries_then_absent_never_one(server, caplog):
    server.script("POST", CHAT, [(500, {"error": {"message": "boom"}}, 0.0)] * 10)
    cache = DictCache()
    with caplog.at_level(logging.DEBUG):
        run = judge(server, max_concurrency=1, max_retries=2).judge(items(1), cache)
    r = run.results
    assert r["judge_status"].tolist() == ["failed"]
    assert np.isnan(r["judge_score"][0]) and "InternalServerError" in r["judge_reason"][0]
    assert server.calls(CHAT) == 3 and run.retries == 2
    assert cache.rows == {}  # failures are not cached: the next run tries again
    assert "sk-secret-value" not in caplog.text
    # the aggregate ignores the absent judge instead of counting it as 1.0
    scored = score_batch(pd.Series(["a fine answer with several distinct words in it"]))
    merged = apply_judge(scored, pd.Series(r["judge_score"].to_numpy()))
    assert merged["score"][0] == scored["score"][0]
    assert np.isnan(merged["judge_score"][0])


def test_non_retryable_error_fails_fast(server):
    server.script("POST", CHAT, [(400, {"error": {"message": "bad request"}}, 0.0)])
    run = judge(server).judge(items(1), DictCache())
    assert run.results["judge_status"].tolist() == ["failed"] and server.calls(CHAT) == 1


def test_malformed_answer_is_unparseable_and_absent(server):
    server.chat_handler = lambda req: "I think it is pretty good overall!"
    run = judge(server).judge(items(2), DictCache())
    assert run.results["judge_status"].tolist() == ["unparseable"] * 2
    assert run.results["judge_score"].isna().all()
    assert run.results["judge_reason"][0].startswith("no score in answer")


def test_slow_answer_past_timeout_fails(server):
    server.script("POST", CHAT, [(200, {}, 0.6)] * 2)
    run = judge(server, timeout_s=0.2, max_retries=1, max_concurrency=1).judge(
        items(1), DictCache()
    )
    assert run.results["judge_status"].tolist() == ["failed"]
    assert "APITimeoutError" in run.results["judge_reason"][0]
    assert np.isnan(run.results["judge_score"][0])


def test_call_cap_skips_rest_and_flags(server):
    run = judge(server, max_calls_per_run=3).judge(items(5), DictCache())
    statuses = run.results["judge_status"].tolist()
    assert statuses == ["ok"] * 3 + ["skipped_cap"] * 2
    assert run.cap_hit and run.calls == 3 and server.calls(CHAT) == 3
    assert run.metadata()["judge_cap_hit"] is True
    assert run.results["judge_score"][3:].isna().all()


def test_token_cap_stops_calls(server):
    # every judgement estimates >200 tokens (max_answer_tokens), so a 300-token budget
    # allows exactly one call
    run = judge(server, max_tokens_per_run=300, max_concurrency=1).judge(items(4), DictCache())
    assert run.results["judge_status"].tolist() == ["ok"] + ["skipped_cap"] * 3
    assert run.cap_hit and server.calls(CHAT) == 1


def test_sampling_is_deterministic_and_near_rate(server):
    res = judge(server, sample_rate=0.3, seed=7)
    ids = pd.Series([f"evt-{i}" for i in range(2000)])
    mask = res.sample_mask(ids)
    assert 0.25 < mask.mean() < 0.35
    assert (mask == res.sample_mask(ids)).all()
    assert not (mask == judge(server, sample_rate=0.3, seed=8).sample_mask(ids)).all()
    run = res.judge(items(40), DictCache())
    picked = run.results["judge_status"].eq("ok").to_numpy()
    assert (picked == res.sample_mask(items(40)["event_id"])).all()
    assert run.results.loc[~picked, "judge_status"].eq("skipped_sample").all()
    assert run.results.loc[~picked, "judge_score"].isna().all()


def test_missing_columns_named(server):
    with pytest.raises(ValueError, match="response"):
        judge(server).judge(pd.DataFrame({"event_id": ["a"], "prompt": ["p"]}), DictCache())


def test_resource_in_dagster_with_env_var(server, monkeypatch):
    monkeypatch.setenv("FEEDBACK_JUDGE_API_KEY", "sk-from-env")

    @dg.asset
    def judged(llm_judge: LLMJudgeResource) -> dg.MaterializeResult:
        run = llm_judge.judge(items(2), DictCache())
        return dg.MaterializeResult(metadata=run.metadata())

    resource = LLMJudgeResource(
        enabled=True,
        base_url=server.base_url,
        api_key=dg.EnvVar("FEEDBACK_JUDGE_API_KEY"),
        model="m",
        sample_rate=1.0,
    )
    result = dg.materialize([judged], resources={"llm_judge": resource})
    assert result.success
    assert server.requests[0]["headers"]["authorization"] == "Bearer sk-from-env"
    mats = result.asset_materializations_for_node("judged")
    assert mats[0].metadata["judge_calls"].value == 2


def test_concurrency_is_bounded(server):
    import threading
    import time

    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def slow(req):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return '{"score": 5, "pass": true, "reason": "fine"}'

    server.chat_handler = slow
    run = judge(server, max_concurrency=2).judge(items(8), DictCache())
    assert run.results["judge_score"].tolist() == [1.0] * 8
    assert state["peak"] == 2


def test_pairwise_compare_counts_a_preference_only_when_it_survives_the_swap(server) -> None:
    """The judge always prefers position A on prompt 0 (order bias), prefers the candidate's
    text on prompt 1 in both orders, and the current model's on prompt 2."""

    def pairwise(body: dict) -> str:
        user = body["messages"][-1]["content"]
        first = user.split("Answer A:\n", 1)[1].split("\n\nAnswer B:", 1)[0]
        if "p0" in user:
            return "A"
        if "p1" in user:
            return "A" if first == "cand-1" else "B"
        return "A" if first == "cur-2" else "B"

    server.chat_handler = pairwise
    votes, meta = judge(server).compare(
        ["p0", "p1", "p2"], ["cand-0", "cand-1", "cand-2"], ["cur-0", "cur-1", "cur-2"]
    )
    assert votes.tolist() == [0, 1, -1]
    assert meta["judge_pairwise_calls"] == 6 and meta["judge_pairwise_unanswered"] == 0
    assert server.calls("/chat/completions") == 6
