"""Score the candidate's and the current model's answers on the eval prompts, then decide.

Each prompt gets up to three votes, +1 for the candidate, -1 for the current model, 0 for a
tie or no signal: the quality checks (score difference beyond the tie margin), agreement with
the reference answer where one exists (token F1, same margin), and the pairwise judge when it
ran (a preference that holds with positions swapped). The prompt is a win, tie or loss by the
sign of the sum, and the paired sign test over prompts decides (paired_test.decide).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.evaluation.agreement import agreement_scores
from feedback_assets.domain.evaluation.paired_test import GateConfig, GateDecision, decide
from feedback_assets.domain.quality.quality_batch import score_batch
from feedback_assets.domain.quality.quality_rules import QualityConfig


@dataclass(frozen=True)
class CandidateEvaluation:
    decision: GateDecision
    per_prompt: pd.DataFrame  # prompt, reference, both answers, scores, votes, outcome
    metrics: dict[str, Any]


def _vote(candidate: np.ndarray, current: np.ndarray, margin: float) -> np.ndarray:
    diff = np.nan_to_num(candidate - current, nan=0.0)
    return np.where(np.abs(diff) > margin, np.sign(diff), 0.0).astype(int)


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return round(float(finite.mean()), 4) if len(finite) else None


def evaluate_answers(
    prompts: Sequence[str],
    references: Sequence[str | None],
    candidate_answers: Sequence[str],
    current_answers: Sequence[str],
    gate: GateConfig,
    quality: QualityConfig = QualityConfig(),
    judge_votes: np.ndarray | None = None,
) -> CandidateEvaluation:
    """judge_votes: +1/-1/0 per prompt from the swapped pairwise judge, or None when it is off."""
    q_cand = score_batch(list(candidate_answers), quality)["score"].to_numpy(dtype=float)
    q_cur = score_batch(list(current_answers), quality)["score"].to_numpy(dtype=float)
    a_cand = agreement_scores(candidate_answers, references)
    a_cur = agreement_scores(current_answers, references)
    votes = _vote(q_cand, q_cur, gate.tie_margin) + _vote(a_cand, a_cur, gate.tie_margin)
    judge = np.zeros(len(prompts), dtype=int) if judge_votes is None else judge_votes.astype(int)
    outcome = np.sign(votes + judge).astype(int)
    wins, losses = int((outcome > 0).sum()), int((outcome < 0).sum())
    decision = decide(wins, len(outcome) - wins - losses, losses, gate)
    per_prompt = pd.DataFrame(
        {
            "prompt": list(prompts),
            "reference": list(references),
            "candidate_answer": list(candidate_answers),
            "current_answer": list(current_answers),
            "candidate_quality": q_cand,
            "current_quality": q_cur,
            "candidate_agreement": a_cand,
            "current_agreement": a_cur,
            "judge_vote": judge,
            "outcome": outcome,
        }
    )
    metrics = {
        "prompts": len(outcome),
        "with_reference": int(np.isfinite(a_cand).sum()),
        "wins": decision.wins,
        "ties": decision.ties,
        "losses": decision.losses,
        "p_value": decision.p_value,
        "p_better": decision.p_better,
        "p_worse": decision.p_worse,
        "verdict": decision.verdict,
        "candidate_quality": _mean(q_cand),
        "current_quality": _mean(q_cur),
        "candidate_agreement": _mean(a_cand),
        "current_agreement": _mean(a_cur),
        "judge_used": judge_votes is not None,
        "judge_preferred_candidate": int((judge > 0).sum()),
        "judge_preferred_current": int((judge < 0).sum()),
    }
    return CandidateEvaluation(decision, per_prompt, metrics)
