"""After promotion: is the promoted version's live traffic worse than its predecessor's?

Three rates per version: low-quality answers (quality below the floor), thumbs-down per
answer and regenerate clicks per answer. Each is a one-sided pooled two-proportion z-test
(promoted rate > previous rate), Bonferroni-corrected over the three, and only once both
versions have the minimum sample (per rate: a rate's own denominator, such as scored answers
for low quality, must reach it too). The watch judges once: a verdict on enough data is final.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy.stats import norm

RATES: tuple[str, ...] = ("low_quality", "thumbs_down", "regenerate")


@dataclass(frozen=True)
class RegressionConfig:
    alpha: float = 0.05
    min_events: int = 200  # per version, before any verdict


@dataclass(frozen=True)
class VersionCounts:
    model_version_id: str
    events: int
    scored: int = 0  # events with a quality score
    low_quality: int = 0
    thumbs_down: int = 0
    regenerate: int = 0

    def denominator(self, rate: str) -> int:
        return self.scored if rate == "low_quality" else self.events


@dataclass(frozen=True)
class RegressionVerdict:
    regressed: bool
    enough_data: bool
    tests: dict[str, dict[str, float]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided p-value that rate 1 exceeds rate 2 (pooled z-test); 1.0 when undefined."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(norm.sf((k1 / n1 - k2 / n2) / se))


def regression_verdict(
    promoted: VersionCounts, previous: VersionCounts, config: RegressionConfig
) -> RegressionVerdict:
    short = [v for v in (promoted, previous) if v.events < config.min_events]
    if short:
        return RegressionVerdict(
            False,
            False,
            reasons=[
                f"waiting for traffic: {v.model_version_id} has {v.events} answers "
                f"(minimum {config.min_events})"
                for v in short
            ],
        )
    tests: dict[str, dict[str, float]] = {}
    reasons: list[str] = []
    for rate in RATES:
        k1, n1 = getattr(promoted, rate), promoted.denominator(rate)
        k0, n0 = getattr(previous, rate), previous.denominator(rate)
        if min(n1, n0) < config.min_events:  # e.g. quality not scored yet: no test on it
            continue
        p = two_proportion_p(k1, n1, k0, n0)
        tests[rate] = {
            "promoted_rate": k1 / n1 if n1 else 0.0,
            "previous_rate": k0 / n0 if n0 else 0.0,
            "p_value": p,
        }
        if p < config.alpha / len(RATES):
            reasons.append(
                f"{rate} rose from {tests[rate]['previous_rate']:.1%} ({previous.model_version_id}) "
                f"to {tests[rate]['promoted_rate']:.1%} ({promoted.model_version_id}), "
                f"p={p:.3g}"
            )
    return RegressionVerdict(bool(reasons), True, tests, reasons or ["no significant regression"])
