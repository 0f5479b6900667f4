"""Edge cases of the gate's statistics: the sign test's decisions and the regression watch."""

from __future__ import annotations

import math

from feedback_assets.domain.evaluation.agreement import token_f1
from feedback_assets.domain.evaluation.model_regression import (
    RegressionConfig,
    VersionCounts,
    regression_verdict,
)
from feedback_assets.domain.evaluation.paired_test import GateConfig, decide


def test_sign_test_directions_and_two_sided_p() -> None:
    config = GateConfig(min_prompts=10)
    better = decide(15, 5, 2, config)
    assert better.promote and better.verdict == "better" and better.p_better < 0.05
    assert better.p_value == min(1.0, 2 * better.p_better)
    worse = decide(2, 5, 15, config)
    assert not worse.promote and worse.verdict == "worse"
    assert decide(0, 20, 0, config).verdict == "inconclusive"  # all ties: the rule decides
    assert decide(0, 5, 0, config).verdict == "too_few_prompts"


def test_a_rate_is_tested_only_on_its_own_minimum_sample() -> None:
    """300 answers but only 2 scored: the low-quality rate is not judged on 2 answers."""
    config = RegressionConfig(min_events=200)
    promoted = VersionCounts("v2", events=300, scored=2, low_quality=2)
    previous = VersionCounts("v1", events=400, scored=400, low_quality=20)
    verdict = regression_verdict(promoted, previous, config)
    assert verdict.enough_data and not verdict.regressed
    assert "low_quality" not in verdict.tests and "thumbs_down" in verdict.tests


def test_blank_references_are_missing_not_perfect_agreement() -> None:
    assert math.isnan(token_f1("", "   "))
    assert math.isnan(token_f1("anything", None))
    assert token_f1("open the settings", "open the settings page") > 0.8
