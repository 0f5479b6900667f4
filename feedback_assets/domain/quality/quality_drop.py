"""Relative quality drop: the current window against the deployment's own reference window.

An absolute floor (mean < 0.7) misses a deployment that falls from 0.97 to 0.83. This test
fires when, with at least `min_samples` scores in each window, either
- the mean fell significantly: one-sided Welch t-test (unequal variances; scores are bounded
  and bimodal, and at these sizes the mean is close to normal) with p < alpha, AND the fall
  is at least `min_mean_drop` (a floor on the effect size: with thousands of scores a
  0.01 wobble is "significant" but not worth a retraining); or
- the hard-fail rate rose significantly: one-sided two-proportion z-test (pooled) with
  p < alpha, AND a rise of at least `min_hard_fail_rise`.
Pure: numbers in, a decision with a human reason out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

TRIGGER = "quality_drop"


@dataclass(frozen=True)
class QualityDropConfig:
    alpha: float = 0.01
    min_samples: int = 100  # per window
    min_mean_drop: float = 0.05
    min_hard_fail_rise: float = 0.05
    hard_fail_cap: float = 0.3  # without flags, a score at or below this is a hard fail

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha: {self.alpha} is outside (0, 1)")
        if self.min_samples < 2:
            raise ValueError(f"min_samples: {self.min_samples} < 2 (a variance needs two)")
        for name in ("min_mean_drop", "min_hard_fail_rise", "hard_fail_cap"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: {getattr(self, name)} is outside [0, 1]")


@dataclass(frozen=True)
class QualityDropDecision:
    fired: bool
    reason: str
    values: dict[str, Any] = field(default_factory=dict)
    trigger: str = TRIGGER


def _scores(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: {int((~np.isfinite(arr)).sum())} score(s) are NaN or infinite")
    if ((arr < 0) | (arr > 1)).any():
        raise ValueError(f"{name}: {int(((arr < 0) | (arr > 1)).sum())} score(s) outside [0, 1]")
    return arr


def _flags(
    name: str, flags: Sequence[bool] | np.ndarray | None, scores: np.ndarray, cap: float
) -> np.ndarray:
    if flags is None:
        return scores <= cap
    arr = np.asarray(flags, dtype=bool).ravel()
    if len(arr) != len(scores):
        raise ValueError(f"{name}: {len(arr)} flags for {len(scores)} scores")
    return arr


def _welch_less(ref: np.ndarray, cur: np.ndarray) -> float:
    """One-sided p-value of mean(cur) < mean(ref); 1.0 when both windows are constant."""
    if np.ptp(ref) == 0 and np.ptp(cur) == 0:  # exact: var() of equal floats is not 0
        return 0.0 if cur.mean() < ref.mean() else 1.0
    return float(stats.ttest_ind(cur, ref, equal_var=False, alternative="less").pvalue)


def _proportion_greater(k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> float:
    """One-sided p-value of rate(cur) > rate(ref), pooled two-proportion z-test."""
    pooled = (k_ref + k_cur) / (n_ref + n_cur)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    if se == 0:
        return 1.0
    z = (k_cur / n_cur - k_ref / n_ref) / se
    return float(stats.norm.sf(z))


def relative_quality_drop(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    config: QualityDropConfig = QualityDropConfig(),
    *,
    reference_hard_fail: Sequence[bool] | np.ndarray | None = None,
    current_hard_fail: Sequence[bool] | np.ndarray | None = None,
) -> QualityDropDecision:
    """Did quality fall, relative to the reference window? (see the module doc)"""
    ref, cur = _scores("reference", reference), _scores("current", current)
    n_ref, n_cur = len(ref), len(cur)
    values: dict[str, Any] = {"n_reference": n_ref, "n_current": n_cur, "alpha": config.alpha}
    if min(n_ref, n_cur) < config.min_samples:
        reason = (
            f"insufficient samples: {n_ref:,} reference and {n_cur:,} current scores "
            f"(need {config.min_samples:,} each)"
        )
        return QualityDropDecision(False, reason, values)
    hf_ref = _flags("reference_hard_fail", reference_hard_fail, ref, config.hard_fail_cap)
    hf_cur = _flags("current_hard_fail", current_hard_fail, cur, config.hard_fail_cap)
    mean_ref, mean_cur = float(ref.mean()), float(cur.mean())
    rate_ref, rate_cur = float(hf_ref.mean()), float(hf_cur.mean())
    p_mean = _welch_less(ref, cur)
    p_rate = _proportion_greater(int(hf_ref.sum()), n_ref, int(hf_cur.sum()), n_cur)
    values |= {
        "mean_reference": mean_ref,
        "mean_current": mean_cur,
        "mean_p_value": p_mean,
        "hard_fail_rate_reference": rate_ref,
        "hard_fail_rate_current": rate_cur,
        "hard_fail_p_value": p_rate,
    }
    mean_fell = p_mean < config.alpha and mean_ref - mean_cur >= config.min_mean_drop
    rate_rose = p_rate < config.alpha and rate_cur - rate_ref >= config.min_hard_fail_rise
    mean_txt = f"mean {mean_ref:.3f} -> {mean_cur:.3f} (Welch p={p_mean:.2g})"
    rate_txt = f"hard-fail rate {rate_ref:.1%} -> {rate_cur:.1%} (z-test p={p_rate:.2g})"
    sizes = f"{n_cur:,} current vs {n_ref:,} reference events"
    if mean_fell or rate_rose:
        parts = ((f"{mean_txt} fell", mean_fell), (f"{rate_txt} rose", rate_rose))
        fired = [text for text, hit in parts if hit]
        return QualityDropDecision(True, f"quality dropped: {'; '.join(fired)}; {sizes}", values)
    reason = (
        f"no significant drop (needs p < {config.alpha} and a fall >= {config.min_mean_drop} "
        f"or a hard-fail rise >= {config.min_hard_fail_rise:.0%}): {mean_txt}, {rate_txt}; {sizes}"
    )
    return QualityDropDecision(False, reason, values)
