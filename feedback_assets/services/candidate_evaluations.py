"""The evaluation gate: a retraining run's candidate against the deployment's current model.

Both answer the deployment's frozen eval prompts at one OpenAI-compatible endpoint; the answers
are scored and compared per prompt (domain.evaluation.candidate_evaluations) and the verdict is
recorded on the candidate: still "candidate" with a passing evaluation (model_promotions
promotes it), "rejected" with its reasons, or "failed" when the endpoint (or the judge) could
not answer. A failure promotes nothing; a candidate that does not serve gives its training
examples back. A prompt the endpoint refuses as a request (4xx: too long for the model, say)
is left out and counted, so one bad prompt cannot block every later candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, Protocol

import numpy as np
import pandas as pd

from feedback_assets.domain.evaluation.candidate_evaluations import evaluate_answers
from feedback_assets.domain.evaluation.paired_test import decide as gate_decide
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.resources.model_evaluator import AnswerRun, ModelEvaluatorResource
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import eval_set
from feedback_assets.store.exports import unmark_batch
from feedback_assets.store.model_versions import (
    candidate_of_runs,
    candidates,
    current_model_version,
    decide,
)


class EvaluationFailed(RuntimeError):
    """Nothing was promoted; the candidate's row already says why."""

    def __init__(self, description: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.metadata = dict(metadata or {})


class PairwiseJudge(Protocol):
    enabled: bool

    def compare(
        self, prompts: list[str], candidate: list[str], current: list[str]
    ) -> tuple[np.ndarray, dict[str, Any]]: ...


def eval_prompts(store: FeedbackStore, deployment_id: str, limit: int) -> tuple[int, pd.DataFrame]:
    """The eval set's version and a deterministic sample of at most `limit` of its items
    (ordered by prompt key, a hash: the same set gives the same sample on every run)."""
    frozen = eval_set(store, deployment_id)
    items = frozen.items.sort_values("prompt_key").head(limit).reset_index(drop=True)
    return frozen.version, items


def _cost(runs: list[AnswerRun]) -> dict[str, Any]:
    counters = runs[-1].counters  # one caller (one circuit) serves both models
    return {
        "eval_calls": counters.calls,
        "eval_requests": counters.requests,
        "eval_retries": counters.retries,
        "eval_tokens": counters.tokens,
        "eval_seconds": round(sum(r.seconds for r in runs), 3),
    }


def _candidate(
    store: FeedbackStore, deployment_id: str, run_ids: Sequence[str] | None
) -> dict[str, Any]:
    waiting = candidates(store, deployment_id)
    cand = candidate_of_runs(store, deployment_id, run_ids) if run_ids else (waiting or [None])[-1]
    if cand is None:
        raise EvaluationFailed(f"{deployment_id}: no candidate model of this run awaits evaluation")
    return cand


def evaluate_candidate(
    store: FeedbackStore,
    evaluator: ModelEvaluatorResource,
    judge: PairwiseJudge,
    deployment_id: str,
    quality: QualityConfig = QualityConfig(),
    run_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate the candidate of `run_ids` (default: the newest) and record the verdict;
    returns the metadata (raises EvaluationFailed)."""
    cand = _candidate(store, deployment_id, run_ids)
    cand_id = str(cand["model_version_id"])
    if not evaluator.configured():
        _fail(
            store,
            cand,
            "no evaluation endpoint: set FEEDBACK_EVAL_BASE_URL (or the OpenAI launcher's) and "
            "FEEDBACK_EVAL_API_KEY; without an evaluation nothing is promoted",
        )
    current = current_model_version(store, deployment_id)
    if not current:
        _fail(store, cand, f"{deployment_id}: no current model version to compare with")
    version, items = eval_prompts(store, deployment_id, evaluator.max_prompts)
    base = {"candidate": cand_id, "current": current, "eval_set_version": version}
    gate = evaluator.gate_config()
    if len(items) < gate.min_prompts:  # cannot pass: do not spend calls on it
        return _reject_unevaluated(store, cand, base, len(items), gate)
    prompts = items["prompt"].astype(str).tolist()
    runs = _answers(store, cand, str(current), prompts, evaluator, base)
    refused = set(runs[0].refused + runs[1].refused)
    answered = [i for i in range(len(prompts)) if i not in refused]

    def pick(values: Sequence[Any]) -> list[Any]:
        return [values[i] for i in answered]

    cand_answers, cur_answers = pick(runs[0].answers), pick(runs[1].answers)
    votes, judge_meta = (
        judge.compare(pick(prompts), cand_answers, cur_answers) if judge.enabled else (None, {})
    )
    cost = {**_cost(runs), "eval_prompts_refused": len(prompts) - len(answered)}
    if judge_meta.get("judge_pairwise_failed"):
        _fail(store, cand, f"pairwise judge failed: {judge_meta['judge_pairwise_error']}", cost)
    references = [r if isinstance(r, str) else None for r in items["reference_answer"]]
    result = evaluate_answers(
        pick(prompts), pick(references), cand_answers, cur_answers, gate, quality, votes
    )
    evaluation = {**base, **result.metrics, **cost, **judge_meta}
    status = "candidate" if result.decision.promote else "rejected"
    decide(store, deployment_id, cand_id, status, result.decision.reasons, evaluation)
    if status == "rejected":
        give_back(store, cand)
    return {
        **evaluation,
        "status": "passed" if result.decision.promote else "rejected",
        "reasons": result.decision.reasons,
        "per_prompt": result.per_prompt,
    }


def _answers(
    store: FeedbackStore,
    cand: Mapping[str, Any],
    current: str,
    prompts: list[str],
    evaluator: ModelEvaluatorResource,
    base: Mapping[str, Any],
) -> list[AnswerRun]:
    """Both models' answers (the candidate first: if the endpoint cannot serve it, the current
    model is not asked)."""
    caller = evaluator.caller()
    runs = [evaluator.answer(str(cand["model_version_id"]), prompts, caller)]
    if not runs[0].errors:
        runs.append(evaluator.answer(current, prompts, caller))
    errors = [e for run in runs for e in run.errors]
    if errors:
        _fail(store, cand, "evaluation failed: " + "; ".join(errors), {**base, **_cost(runs)})
    return runs


def _reject_unevaluated(
    store: FeedbackStore, cand: Mapping[str, Any], base: Mapping[str, Any], n: int, gate: Any
) -> dict[str, Any]:
    decision = gate_decide(0, n, 0, gate)
    evaluation = {**base, "prompts": n, "verdict": decision.verdict}
    decide(
        store,
        str(cand["deployment_id"]),
        str(cand["model_version_id"]),
        "rejected",
        decision.reasons,
        evaluation,
    )
    give_back(store, cand)
    return {**evaluation, "status": "rejected", "reasons": decision.reasons}


def _fail(
    store: FeedbackStore,
    cand: Mapping[str, Any],
    reason: str,
    evaluation: Mapping[str, Any] | None = None,
) -> NoReturn:
    deployment, version = str(cand["deployment_id"]), str(cand["model_version_id"])
    decide(store, deployment, version, "failed", [reason], evaluation or {})
    give_back(store, cand)
    raise EvaluationFailed(reason, evaluation)


def give_back(store: FeedbackStore, candidate: Mapping[str, Any]) -> None:
    """A candidate that does not serve returns its training examples to the pool: the next
    retraining trains on them again, with whatever arrived since."""
    run_id = candidate.get("retraining_run_id")
    runs = store.read_table("retraining_runs", run_id=run_id) if run_id else None
    if runs is not None and len(runs) and isinstance(runs["export_batch_id"].iloc[0], str):
        unmark_batch(store, runs["export_batch_id"].iloc[0])
