"""The evaluation gate against a real OpenAI-compatible server on 127.0.0.1 (both stores):
a better candidate passes, a worse one is rejected, a tie follows the configured rule, a server
error fails the evaluation and promotes nothing; promotion and rollback move the current model
and reset the drift reference only then."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
from feedback_assets.resources.retraining_launcher import CommandLauncher
from feedback_assets.services.candidate_evaluations import EvaluationFailed, evaluate_candidate
from feedback_assets.services.model_promotions import PromotionFailed, promote_candidate, roll_back
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import add_splits
from feedback_assets.store.model_versions import (
    ModelVersionError,
    current_model_version,
    model_history,
    register_candidate,
)
from feedback_assets.store.references import active_reference
from feedback_assets_tests.openai_server import OpenAICompatServer

DEP = "support-bot"
N = 40
PROMPTS = [f"How do I change setting number {i} in the billing console?" for i in range(N)]
REFERENCES = {
    p: f"Open the billing console, choose settings, then change entry {i} and press save."
    for i, p in enumerate(PROMPTS)
}
MEDIOCRE = "You could look around in the console for the relevant page and try there."


def _prompt(body: dict) -> str:
    return str(body["messages"][-1]["content"])


def answer(body: dict) -> str:
    """good: the reference; mediocre: a vague answer; half: reference for even prompts only;
    broken: raises (the server answers 500)."""
    model, prompt = body["model"], _prompt(body)
    i = PROMPTS.index(prompt)
    if model == "broken":
        raise RuntimeError("model crashed")
    if model == "good" or (model == "half" and i % 2 == 0):
        return REFERENCES[prompt]
    if model == "half-flip" and i % 2 == 1:
        return REFERENCES[prompt]
    return MEDIOCRE


@pytest.fixture
def server():
    with OpenAICompatServer(chat_handler=answer) as srv:
        yield srv


def evaluator(server: OpenAICompatServer, **overrides) -> ModelEvaluatorResource:
    values = {"base_url": server.base_url, "api_key": "sk-eval-secret", "backoff_base_s": 0.0}
    return ModelEvaluatorResource(**{**values, **overrides})


class NoJudge:
    enabled = False

    def compare(self, prompts, candidate, current):  # pragma: no cover - never called
        raise AssertionError("the judge is disabled")


def seed(store: FeedbackStore, candidate: str, current: str = "mediocre") -> None:
    rows = pd.DataFrame(
        {
            "prompt_key": [f"k{i:03d}" for i in range(N)],
            "cluster_key": [f"c{i:03d}" for i in range(N)],
            "split": "eval",
            "prompt": PROMPTS,
            "reference_answer": [REFERENCES[p] for p in PROMPTS],
            "source": "approved",
            "event_id": [f"e{i}" for i in range(N)],
        }
    )
    assert add_splits(store, DEP, "2026-01-01", rows) == N
    register_candidate(store, DEP, candidate, current, "run-1")


def test_a_better_candidate_passes_and_promotion_resets_the_reference(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "good")
    before = active_reference(store, DEP)
    result = evaluate_candidate(store, evaluator(server), NoJudge(), DEP)
    assert result["status"] == "passed" and result["verdict"] == "better"
    assert result["wins"] == N and result["losses"] == 0 and result["p_better"] < 1e-6
    assert result["eval_calls"] == 2 * N and result["eval_tokens"] > 0
    # Passing is not promotion: the current model and the reference wait for model_promotions.
    assert current_model_version(store, DEP) == "mediocre"
    assert active_reference(store, DEP) == before
    out = promote_candidate(store, CommandLauncher(), DEP)
    assert out == {"promoted": "good", "previous": "mediocre", "launcher": out["launcher"]}
    assert current_model_version(store, DEP) == "good"
    ref = active_reference(store, DEP)
    assert ref is not None and ref["model_version_id"] == "good"
    history = model_history(store, DEP)
    assert [(h["model_version_id"], h["status"]) for h in history] == [
        ("mediocre", "promoted"),
        ("good", "promoted"),
    ]
    assert history[1]["parent_model_version_id"] == "mediocre"
    assert history[1]["eval"]["wins"] == N and history[1]["created_at"]


def test_a_worse_candidate_is_rejected_with_its_reasons(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "mediocre-2", current="good")
    server.chat_handler = lambda body: answer({**body, "model": body["model"].split("-")[0]})
    result = evaluate_candidate(store, evaluator(server), NoJudge(), DEP)
    assert result["status"] == "rejected" and result["verdict"] == "worse"
    assert result["losses"] == N and "significantly worse" in result["reasons"][0]
    [_, cand] = model_history(store, DEP)
    assert cand["status"] == "rejected" and cand["eval"]["p_worse"] < 1e-6
    assert "sk-eval-secret" not in json.dumps(cand)
    with pytest.raises(PromotionFailed, match="no evaluated candidate"):
        promote_candidate(store, CommandLauncher(), DEP)
    assert current_model_version(store, DEP) == "good"
    assert active_reference(store, DEP) is None


@pytest.mark.parametrize(
    ("rule", "promoted"),
    [("promote_if_not_behind", True), ("reject", False), ("promote", True)],
)
def test_a_tie_follows_the_configured_rule(
    store: FeedbackStore, server: OpenAICompatServer, rule: str, promoted: bool
) -> None:
    seed(store, "half", current="half-flip")  # each wins half the prompts
    result = evaluate_candidate(store, evaluator(server, on_inconclusive=rule), NoJudge(), DEP)
    assert (result["wins"], result["losses"]) == (N // 2, N // 2)
    assert result["verdict"] == "inconclusive"
    assert result["status"] == ("passed" if promoted else "rejected")
    assert rule in result["reasons"][0]


def test_a_server_error_fails_the_evaluation_and_promotes_nothing(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "broken")
    with pytest.raises(EvaluationFailed, match="evaluation failed"):
        evaluate_candidate(store, evaluator(server, max_retries=1), NoJudge(), DEP)
    [_, cand] = model_history(store, DEP)
    assert cand["status"] == "failed" and "InternalServerError" in cand["reasons"][0]
    # The circuit stops the calls: far fewer requests than prompts x attempts.
    assert cand["eval"]["eval_requests"] < N
    with pytest.raises(PromotionFailed):
        promote_candidate(store, CommandLauncher(), DEP)
    assert current_model_version(store, DEP) == "mediocre"


def test_too_few_eval_prompts_cannot_pass_and_cost_no_calls(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "good")
    result = evaluate_candidate(store, evaluator(server, min_prompts=N + 1), NoJudge(), DEP)
    assert result["status"] == "rejected" and result["verdict"] == "too_few_prompts"
    assert server.calls("/chat/completions") == 0


class SwappedJudge:
    """A real pairwise judge call path is tested in resources; here: votes reach the verdict."""

    enabled = True

    def compare(self, prompts, candidate, current):
        return np.ones(len(prompts), dtype=int), {"judge_pairwise_calls": 2 * len(prompts)}


def test_judge_votes_break_ties(store: FeedbackStore, server: OpenAICompatServer) -> None:
    seed(store, "mediocre-b", current="mediocre")
    server.chat_handler = lambda body: MEDIOCRE
    assert evaluate_candidate(store, evaluator(server), NoJudge(), DEP)["ties"] == N
    register_candidate(store, DEP, "mediocre-c", "mediocre", "run-2")
    result = evaluate_candidate(store, evaluator(server), SwappedJudge(), DEP)
    assert result["wins"] == N and result["judge_used"] is True


def test_rollback_serves_the_parent_and_resets_the_reference(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "good")
    evaluate_candidate(store, evaluator(server), NoJudge(), DEP)
    promote_candidate(store, CommandLauncher(), DEP)
    roll_back(store, CommandLauncher(), DEP, "good", ["thumbs_down rose"])
    assert current_model_version(store, DEP) == "mediocre"
    statuses = {h["model_version_id"]: h["status"] for h in model_history(store, DEP)}
    assert statuses == {"mediocre": "promoted", "good": "rolled_back"}
    ref = active_reference(store, DEP)
    assert ref is not None and ref["model_version_id"] == "mediocre"
    with pytest.raises(PromotionFailed, match="not the current model"):
        roll_back(store, CommandLauncher(), DEP, "good", ["again"])


def test_only_the_current_version_can_be_rolled_back(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    """mediocre <- good <- good-2: a rollback of `good` queued behind good-2's promotion would
    serve mediocre while the history says good-2; it is refused instead."""
    seed(store, "good")
    evaluate_candidate(store, evaluator(server), NoJudge(), DEP)
    promote_candidate(store, CommandLauncher(), DEP)
    register_candidate(store, DEP, "good-2", "good", "run-2")
    server.chat_handler = lambda body: answer({**body, "model": body["model"].split("-")[0]})
    evaluate_candidate(store, evaluator(server, on_inconclusive="promote"), NoJudge(), DEP)
    promote_candidate(store, CommandLauncher(), DEP)
    with pytest.raises(PromotionFailed, match="not the current model"):
        roll_back(store, CommandLauncher(), DEP, "good", ["late"])
    roll_back(store, CommandLauncher(), DEP, "good-2", ["thumbs_down rose"])
    assert current_model_version(store, DEP) == "good"


def test_two_deployments_may_share_a_base_model_and_bad_ids_are_refused(
    store: FeedbackStore,
) -> None:
    register_candidate(store, "dep-a", "a-ft-1", "gpt-4o-mini", "r1")
    register_candidate(store, "dep-b", "b-ft-1", "gpt-4o-mini", "r2")
    for dep in ("dep-a", "dep-b"):
        assert [h["model_version_id"] for h in model_history(store, dep)][0] == "gpt-4o-mini"
    for bad, why in (("", "no model id"), (" x", "spaces"), ("gpt-4o-mini", "trained from")):
        with pytest.raises(ModelVersionError, match=why):
            register_candidate(store, "dep-a", bad, "gpt-4o-mini", "r3")
    with pytest.raises(ModelVersionError, match="already registered"):
        register_candidate(store, "dep-a", "a-ft-1", "gpt-4o-mini", "r4")


def test_a_prompt_the_endpoint_refuses_is_left_out_not_fatal(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "good")
    too_long = (400, {"error": {"message": "context length exceeded", "type": "invalid"}}, 0.0)
    server.script("POST", "/v1/chat/completions", [too_long])
    result = evaluate_candidate(store, evaluator(server, max_concurrency=1), NoJudge(), DEP)
    assert result["eval_prompts_refused"] == 1 and result["prompts"] == N - 1
    assert result["status"] == "passed"


def test_a_failing_pairwise_judge_fails_the_evaluation(
    store: FeedbackStore, server: OpenAICompatServer
) -> None:
    seed(store, "good")
    dead = LLMJudgeResource(
        enabled=True,
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-judge",
        max_retries=0,
        timeout_s=0.5,
        circuit_failures=2,
    )
    with pytest.raises(EvaluationFailed, match="pairwise judge failed"):
        evaluate_candidate(store, evaluator(server), dead, DEP)
    assert model_history(store, DEP)[1]["status"] == "failed"
