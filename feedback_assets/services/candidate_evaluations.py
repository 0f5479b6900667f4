"""The evaluation gate: the deployment's latest candidate against its current model.

Both answer the deployment's frozen eval prompts at one OpenAI-compatible endpoint; the answers
are scored and compared per prompt (domain.evaluation.candidate_evaluations) and the verdict is
recorded on the candidate: still "candidate" with a passing evaluation (model_promotions
promotes it), "rejected" with its reasons, or "failed" when the endpoint could not answer.
A failure promotes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    current_model_version,
    decide,
    latest_candidate,
    model_version,
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
    counters = runs[-1].counters if runs else None  # one caller (one circuit) serves both models
    return {
        "eval_calls": counters.calls if counters else 0,
        "eval_requests": counters.requests if counters else 0,
        "eval_retries": counters.retries if counters else 0,
        "eval_tokens": counters.tokens if counters else 0,
        "eval_seconds": round(sum(r.seconds for r in runs), 3),
    }


def evaluate_candidate(
    store: FeedbackStore,
    evaluator: ModelEvaluatorResource,
    judge: PairwiseJudge,
    deployment_id: str,
    quality: QualityConfig = QualityConfig(),
) -> dict[str, Any]:
    """Evaluate and record the verdict; returns the metadata (raises EvaluationFailed)."""
    cand = latest_candidate(store, deployment_id)
    if cand is None:
        raise EvaluationFailed(f"{deployment_id}: no candidate model awaits evaluation")
    cand_id = str(cand["model_version_id"])
    if not evaluator.configured():
        _fail(
            cand_id,
            "no evaluation endpoint: set FEEDBACK_EVAL_BASE_URL (or the OpenAI launcher's) and "
            "FEEDBACK_EVAL_API_KEY; without an evaluation nothing is promoted",
            store,
        )
    current = current_model_version(store, deployment_id)
    if not current:
        _fail(cand_id, f"{deployment_id}: no current model version to compare with", store)
    version, items = eval_prompts(store, deployment_id, evaluator.max_prompts)
    base = {"candidate": cand_id, "current": current, "eval_set_version": version}
    gate = evaluator.gate_config()
    if len(items) < gate.min_prompts:  # cannot pass: do not spend calls on it
        decision = gate_decide(0, len(items), 0, gate)
        evaluation = {**base, "prompts": len(items), "verdict": decision.verdict}
        decide(store, cand_id, "rejected", decision.reasons, evaluation)
        give_back(store, cand)
        return {**evaluation, "status": "rejected", "reasons": decision.reasons}
    prompts = items["prompt"].astype(str).tolist()
    caller = evaluator.caller()
    runs = [evaluator.answer(cand_id, prompts, caller)]
    if not runs[0].failed:  # a candidate the endpoint cannot serve: do not query the other
        runs.append(evaluator.answer(str(current), prompts, caller))
    cost = _cost(runs)
    errors = [e for run in runs for e in run.errors]
    if errors:
        _fail(cand_id, "evaluation failed: " + "; ".join(errors), store, {**base, **cost})
    cand_answers = [a or "" for a in runs[0].answers]
    cur_answers = [a or "" for a in runs[1].answers]
    votes, judge_meta = (
        judge.compare(prompts, cand_answers, cur_answers) if judge.enabled else (None, {})
    )
    result = evaluate_answers(
        prompts,
        [r if isinstance(r, str) else None for r in items["reference_answer"]],
        cand_answers,
        cur_answers,
        gate,
        quality,
        votes,
    )
    evaluation = {**base, **result.metrics, **cost, **judge_meta}
    status = "candidate" if result.decision.promote else "rejected"
    decide(store, cand_id, status, result.decision.reasons, evaluation)
    if status == "rejected":
        give_back(store, cand)
    return {
        **evaluation,
        "status": "passed" if result.decision.promote else "rejected",
        "reasons": result.decision.reasons,
        "per_prompt": result.per_prompt,
    }


def _fail(
    cand_id: str,
    reason: str,
    store: FeedbackStore,
    evaluation: Mapping[str, Any] | None = None,
) -> NoReturn:
    decide(store, cand_id, "failed", [reason], evaluation or {})
    row = model_version(store, cand_id)
    if row is not None:
        give_back(store, row)
    raise EvaluationFailed(reason, evaluation)


def give_back(store: FeedbackStore, candidate: Mapping[str, Any]) -> None:
    """A candidate that does not serve returns its training examples to the pool: the next
    retraining trains on them again, with whatever arrived since."""
    run_id = candidate.get("retraining_run_id")
    runs = store.read_table("retraining_runs", run_id=run_id) if run_id else None
    if runs is not None and len(runs) and isinstance(runs["export_batch_id"].iloc[0], str):
        unmark_batch(store, runs["export_batch_id"].iloc[0])


def latest_evaluation(store: FeedbackStore, deployment_id: str) -> dict[str, Any] | None:
    """The newest version of the deployment that the gate has decided on (for the check)."""
    rows = store.read_table(
        "model_versions", deployment_id=deployment_id, order_by=["registered_us"]
    )
    rows = rows[rows["evaluation"].notna() & rows["retraining_run_id"].notna()]
    if rows.empty:
        return None
    return model_version(store, str(rows["model_version_id"].iloc[-1]))
