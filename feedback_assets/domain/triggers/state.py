"""What a trigger decision reads: the thresholds (TriggerConfig) and one deployment's snapshot.

The snapshot (TriggerState) is loaded from precomputed state only (store/trigger_state.py): drift
windows from the drift history, the rolling quality scores plus the latest live-window aggregate,
the curated count since the last retraining, and the last retraining's marks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from feedback_assets.domain.records import DriftReport


def check_types(name: str, types: Sequence[str]) -> None:
    """Every name must be a registered trigger type (see registry.TRIGGERS)."""
    # Imported here: the registry imports the decision functions, which import this module.
    from feedback_assets.domain.triggers.registry import TRIGGERS

    if isinstance(types, str):
        raise ValueError(f"{name}: expected a sequence of trigger types, got the string {types!r}")
    unknown = [t for t in types if t not in TRIGGERS]
    if unknown:
        raise ValueError(f"{name}: unknown trigger type(s) {unknown}; known: {list(TRIGGERS)}")


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: datetime {value.isoformat()} must be timezone-aware (UTC)")


@dataclass(frozen=True)
class TriggerConfig:
    # Normalized score in [0, 1] at/above which a window counts as drifted (or its verdict says so).
    drift_threshold: float = 0.2
    drift_consecutive_windows: int = 2  # hysteresis
    quality_threshold: float = 0.7
    quality_min_samples: int = 100
    data_count_threshold: int = 1000
    schedule_interval_seconds: int = 86_400
    cooldown_seconds: int = 6 * 3600
    enabled_types: tuple[str, ...] | None = None  # None: every registered type
    # Thresholds of types registered without a field here (registry: threshold_field=None).
    extra: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.drift_threshold <= 1.0:
            raise ValueError(f"drift_threshold: {self.drift_threshold} is outside [0, 1]")
        if self.drift_consecutive_windows < 1:
            raise ValueError(
                f"drift_consecutive_windows: {self.drift_consecutive_windows} must be >= 1"
            )
        if not 0.0 <= self.quality_threshold <= 1.0:
            raise ValueError(f"quality_threshold: {self.quality_threshold} is outside [0, 1]")
        for name in ("quality_min_samples", "data_count_threshold", "schedule_interval_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: {getattr(self, name)} must be >= 1")
        if self.cooldown_seconds < 0:
            raise ValueError(f"cooldown_seconds: {self.cooldown_seconds} must be >= 0")
        if self.enabled_types is not None:
            check_types("enabled_types", self.enabled_types)
            # Accept lists from config systems while staying hashable.
            object.__setattr__(self, "enabled_types", tuple(self.enabled_types))
        if self.extra:
            check_types("extra", list(self.extra))

    @classmethod
    def from_overrides(cls, base: TriggerConfig | None = None, **overrides: Any) -> TriggerConfig:
        """`base` (default: the defaults) with the given fields replaced; unknown names fail."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown trigger option(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(base or cls(), **overrides)


@dataclass(frozen=True)
class DriftWindow:
    window: str
    drifted: bool
    score: float
    severity: str


@dataclass(frozen=True)
class LiveQuality:
    """The quality aggregate of the latest live window (the live_drift asset computes it)."""

    window: str
    mean: float | None
    n: int  # scores with a finite value

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n: {self.n} must be >= 0")
        if self.n and (self.mean is None or not np.isfinite(self.mean)):
            raise ValueError(f"mean: must be a finite number when n > 0, got {self.mean}")


@dataclass(frozen=True)
class TriggerState:
    deployment_id: str
    drift_windows: Sequence[DriftWindow] = ()  # oldest -> newest, since the last reference reset
    quality_scores: Sequence[float] | np.ndarray = ()  # rolling window of stored scores
    live_quality: LiveQuality | None = None  # newer traffic than the stored scores, aggregated
    # The drift reference window's stored scores: the quality trigger also fires on a
    # significant fall relative to them, not only below the absolute floor.
    reference_quality_scores: Sequence[float] | np.ndarray = ()
    scores_after_reference: Sequence[float] | np.ndarray = ()  # latest, newer than the reference
    new_curated_since_last_retrain: int = 0
    last_retrain_finished_at: datetime | None = None  # last successful retraining's finish
    last_retrain_status: str | None = None  # "succeeded" | "failed" | "running"
    last_attempt_at: datetime | None = None  # a failed launch still starts the cooldown
    last_retrain_run_id: str | None = None  # anchors run keys: a new retraining, a new key
    in_flight: bool = False

    def __post_init__(self) -> None:
        if not self.deployment_id:
            raise ValueError("deployment_id: must be a non-empty string")
        count = self.new_curated_since_last_retrain
        if count < 0:
            raise ValueError(f"new_curated_since_last_retrain: {count} must be >= 0")
        for name in ("last_retrain_finished_at", "last_attempt_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(name, value)


def drift_window_from_report(window: str, report: DriftReport) -> DriftWindow:
    """The per-window summary the drift trigger needs, from a stored drift report."""
    return DriftWindow(
        window=window, drifted=report.drifted, score=report.score, severity=report.severity
    )
