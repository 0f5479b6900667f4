"""The relative quality-drop test, on the demo's traffic (support-bot degrades from its drift
day; the healthy deployments must never fire) and on edge cases."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from feedback_assets.demo.traffic import TrafficConfig, generate_traffic
from feedback_assets.domain.quality.quality import score_batch
from feedback_assets.domain.quality.quality_drop import (
    QualityDropConfig,
    relative_quality_drop,
)

_CONFIG = TrafficConfig(end_date=date(2026, 11, 30))  # drift_day 10: from 2026-11-26


@pytest.fixture(scope="module")
def scored_days() -> pd.DataFrame:
    events, _ = generate_traffic(_CONFIG)
    valid = [e for e in events if "prompt" in e and e["latency_ms"] >= 0]
    frame = pd.DataFrame(valid)
    scored = score_batch(frame["response"].reset_index(drop=True))
    return pd.DataFrame(
        {
            "deployment_id": frame["deployment_id"].to_numpy(),
            "day": pd.to_datetime(frame["timestamp"], utc=True).dt.date.to_numpy(),
            "score": scored["score"].to_numpy(),
            "hard_fail": scored["hard_fail"].to_numpy(),
        }
    )


def _decide(frame: pd.DataFrame, dep: str, day: date):
    mine = frame[frame["deployment_id"] == dep]
    ref = mine[mine["day"] <= date(2026, 11, 23)]  # the first 7 days: the reference window
    cur = mine[mine["day"] == day]
    return relative_quality_drop(
        ref["score"],
        cur["score"],
        reference_hard_fail=ref["hard_fail"],
        current_hard_fail=cur["hard_fail"],
    )


def test_degraded_deployment_fires_from_its_drift_day_only(scored_days: pd.DataFrame) -> None:
    for offset in range(7):  # 2026-11-24 .. 2026-11-30
        day = date(2026, 11, 24 + offset)
        decision = _decide(scored_days, "support-bot", day)
        assert decision.fired is (day >= date(2026, 11, 26)), (day, decision.reason)
        if decision.fired:
            assert decision.reason.startswith("quality dropped:")
            assert decision.values["mean_current"] < decision.values["mean_reference"] - 0.05
            assert decision.trigger == "quality_drop"


@pytest.mark.parametrize("dep", ["code-assistant", "json-extractor"])
def test_healthy_deployments_never_fire(scored_days: pd.DataFrame, dep: str) -> None:
    for offset in range(7):
        decision = _decide(scored_days, dep, date(2026, 11, 24 + offset))
        assert not decision.fired, decision.reason
        assert decision.reason.startswith("no significant drop")


def test_the_absolute_floor_alone_misses_the_drift(scored_days: pd.DataFrame) -> None:
    # Why the relative test exists: the degraded days stay above the 0.7 floor.
    bot = scored_days[scored_days["deployment_id"] == "support-bot"]
    assert bot[bot["day"] >= date(2026, 11, 26)]["score"].mean() > 0.7


def test_a_hard_fail_rise_alone_fires() -> None:
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.8, 1.0, 1000)
    cur = rng.uniform(0.8, 1.0, 400)
    cur[:40] = 0.3  # 10% hard fails: the mean falls by ~0.06, under this config's 0.2 floor
    decision = relative_quality_drop(ref, cur, QualityDropConfig(min_mean_drop=0.2))
    assert decision.fired and "rose" in decision.reason and "fell" not in decision.reason
    assert decision.values["hard_fail_rate_current"] == pytest.approx(0.1)


def test_significant_but_tiny_fall_does_not_fire() -> None:
    rng = np.random.default_rng(1)
    ref = np.clip(rng.normal(0.95, 0.02, 5000), 0, 1)
    cur = np.clip(rng.normal(0.93, 0.02, 5000), 0, 1)  # p ~ 0, but a 0.02 fall
    decision = relative_quality_drop(ref, cur)
    assert decision.values["mean_p_value"] < 1e-10 and not decision.fired


def test_too_few_samples_and_bad_input() -> None:
    decision = relative_quality_drop([0.9] * 50, [0.1] * 50)
    assert not decision.fired and decision.reason.startswith("insufficient samples")
    with pytest.raises(ValueError, match="current: 1 score"):
        relative_quality_drop([0.9] * 200, [0.5] * 199 + [float("nan")])
    with pytest.raises(ValueError, match="reference: 1 score"):
        relative_quality_drop([1.5] + [0.9] * 199, [0.5] * 200)
    with pytest.raises(ValueError, match="current_hard_fail: 3 flags for 200"):
        relative_quality_drop([0.9] * 200, [0.5] * 200, current_hard_fail=[True] * 3)
    with pytest.raises(ValueError, match="alpha"):
        QualityDropConfig(alpha=0)


def test_constant_windows() -> None:
    assert relative_quality_drop([0.9] * 200, [0.8] * 200).fired
    assert not relative_quality_drop([0.9] * 200, [0.9] * 200).fired
