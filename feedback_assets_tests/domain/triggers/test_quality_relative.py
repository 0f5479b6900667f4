"""The quality trigger fires on a significant fall against the reference window, above the floor."""

from __future__ import annotations

import numpy as np

from feedback_assets.domain.triggers.decisions import quality_decision
from feedback_assets.domain.triggers.state import TriggerState

RNG = np.random.default_rng(5)


def _scores(mean: float, n: int = 400) -> np.ndarray:
    return np.clip(RNG.normal(mean, 0.05, n), 0.0, 1.0)


def _state(reference: np.ndarray, after: np.ndarray) -> TriggerState:
    return TriggerState(
        deployment_id="bot",
        quality_scores=after,
        reference_quality_scores=reference,
        scores_after_reference=after,
    )


def test_a_fall_from_097_to_083_fires_although_the_floor_holds() -> None:
    decision = quality_decision(_state(_scores(0.97), _scores(0.83)))
    assert decision.fired and decision.reason.startswith("relative drop:"), decision.reason
    assert decision.values["mean"] > 0.7  # above the absolute floor: only the relative test fired
    assert (
        decision.values["relative"]["mean_reference"] > decision.values["relative"]["mean_current"]
    )


def test_the_same_distribution_does_not_fire() -> None:
    decision = quality_decision(_state(_scores(0.95), _scores(0.95)))
    assert not decision.fired, decision.reason


def test_without_a_reference_only_the_floor_decides() -> None:
    state = TriggerState(deployment_id="bot", quality_scores=_scores(0.83))
    decision = quality_decision(state)
    assert not decision.fired and "relative" not in decision.values
