"""Retraining trigger decisions: drift, quality drop, data count, schedule; gating and coalescing.

Pure: no Dagster, no store. The caller (sensors, schedule, facade) loads a `TriggerState` per
deployment from the recorded history and turns a `LaunchPlan` into a run request.

Fixes over the original library: the count trigger counts only since the last retraining (so it
stops firing once a retraining happens), the schedule fires the first time without a caller-supplied
last run, drift needs N consecutive drifted windows (hysteresis) on normalized scores, and a
cooldown plus an in-flight guard stop a deployment from retraining twice for the same reason.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from feedback_assets.domain.records import DriftReport, TriggerDecision, TriggerType

TRIGGER_TYPES: tuple[TriggerType, ...] = (
    "drift_threshold",
    "quality_drop",
    "data_count",
    "scheduled",
)

TAG_DEPLOYMENT = "feedback/deployment"
TAG_TRIGGERS = "feedback/triggers"
TAG_TRIGGER_VALUES = "feedback/trigger_values"
# Run tags are shown in the UI and stored per run: keep the values tag short.
MAX_TAG_VALUES_CHARS = 1000


def _check_types(name: str, types: Sequence[str]) -> None:
    if isinstance(types, str):
        raise ValueError(f"{name}: expected a sequence of trigger types, got the string {types!r}")
    unknown = [t for t in types if t not in TRIGGER_TYPES]
    if unknown:
        raise ValueError(f"{name}: unknown trigger type(s) {unknown}; known: {list(TRIGGER_TYPES)}")


def _require_aware(name: str, value: datetime) -> None:
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
    enabled_types: tuple[str, ...] = TRIGGER_TYPES

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
        _check_types("enabled_types", self.enabled_types)
        # Accept lists from config systems while staying hashable.
        object.__setattr__(self, "enabled_types", tuple(self.enabled_types))

    @classmethod
    def from_overrides(cls, **overrides: Any) -> TriggerConfig:
        """Defaults with the given fields replaced; an unknown name is a clear error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown trigger option(s) {unknown}; known: {sorted(known)}")
        return cls(**overrides)


@dataclass(frozen=True)
class DriftWindow:
    window: str
    drifted: bool
    score: float
    severity: str


@dataclass(frozen=True)
class TriggerState:
    deployment_id: str
    drift_windows: Sequence[DriftWindow] = ()  # oldest -> newest, since the last reference reset
    quality_scores: Sequence[float] | np.ndarray = ()  # rolling window of recent scores
    new_curated_since_last_retrain: int = 0
    last_retrain_finished_at: datetime | None = None  # last successful retraining's finish
    last_retrain_status: str | None = None  # "succeeded" | "failed" | "running"
    last_attempt_at: datetime | None = None  # a failed launch still starts the cooldown
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
                _require_aware(name, value)


@dataclass(frozen=True)
class LaunchPlan:
    run_key: str
    reasons: list[str]
    trigger_types: list[str]
    tags: dict[str, str] = field(default_factory=dict)


def drift_window_from_report(window: str, report: DriftReport) -> DriftWindow:
    """The per-window summary the drift trigger needs, from a stored drift report."""
    return DriftWindow(
        window=window, drifted=report.drifted, score=report.score, severity=report.severity
    )


def _window_drifted(w: DriftWindow, threshold: float) -> bool:
    # A window without enough data has no trustworthy score, whatever it says.
    if w.severity == "insufficient_data":
        return False
    return bool(w.drifted) or (math.isfinite(w.score) and w.score >= threshold)


def drift_decision(state: TriggerState, config: TriggerConfig = TriggerConfig()) -> TriggerDecision:
    """Fires when the last N windows are all drifted (score >= threshold or a drift verdict)."""
    need = config.drift_consecutive_windows
    windows = list(state.drift_windows)
    flags = [_window_drifted(w, config.drift_threshold) for w in windows]
    run = 0
    for flag in reversed(flags):
        if not flag:
            break
        run += 1
    recent = windows[-need:]
    values: dict[str, Any] = {
        "consecutive_drifted": run,
        "consecutive_required": need,
        "threshold": config.drift_threshold,
        "windows": [w.window for w in recent],
        "scores": [round(float(w.score), 4) for w in recent],
        "windows_seen": len(windows),
    }
    latest = f"{windows[-1].window} score {windows[-1].score:.3f}" if windows else "no windows"
    if run >= need:
        reason = (
            f"drift in {run} consecutive windows (need {need}); latest {latest} "
            f">= {config.drift_threshold} or drift verdict"
        )
        return TriggerDecision("drift_threshold", True, reason, values)
    if not windows:
        reason = (
            f"no drift windows since the last reference reset (need {need} consecutive drifted)"
        )
    else:
        reason = (
            f"{run} consecutive drifted window(s) of {need} required; latest {latest} "
            f"(threshold {config.drift_threshold})"
        )
    return TriggerDecision("drift_threshold", False, reason, values)


def quality_decision(
    state: TriggerState, config: TriggerConfig = TriggerConfig()
) -> TriggerDecision:
    """Fires when the rolling mean quality is below the threshold over at least min samples."""
    scores = np.asarray(state.quality_scores, dtype=np.float64).ravel()
    finite = scores[np.isfinite(scores)]  # absent scores (NaN) are not zeros
    n = int(finite.size)
    mean = float(finite.mean()) if n else float("nan")
    values: dict[str, Any] = {
        "mean": round(mean, 4) if n else None,
        "n": n,
        "ignored_non_finite": int(scores.size - n),
        "threshold": config.quality_threshold,
        "min_samples": config.quality_min_samples,
    }
    if n < config.quality_min_samples:
        reason = (
            f"insufficient samples: {n:,} quality scores < minimum {config.quality_min_samples:,}"
        )
        return TriggerDecision("quality_drop", False, reason, values)
    if mean < config.quality_threshold:
        reason = f"quality mean {mean:.2f} < {config.quality_threshold} over {n:,} events"
        return TriggerDecision("quality_drop", True, reason, values)
    reason = f"quality mean {mean:.2f} >= {config.quality_threshold} over {n:,} events"
    return TriggerDecision("quality_drop", False, reason, values)


def data_count_decision(
    state: TriggerState, config: TriggerConfig = TriggerConfig()
) -> TriggerDecision:
    """Fires when new curated examples since the last retraining reach the threshold."""
    count = state.new_curated_since_last_retrain
    since = (
        f"since the last retraining at {state.last_retrain_finished_at.isoformat()}"
        if state.last_retrain_finished_at
        else "with no retraining yet"
    )
    values: dict[str, Any] = {"count": count, "threshold": config.data_count_threshold}
    fired = count >= config.data_count_threshold
    op = ">=" if fired else "<"
    reason = f"{count:,} new curated examples {since} {op} {config.data_count_threshold:,}"
    return TriggerDecision("data_count", fired, reason, values)


def schedule_decision(
    state: TriggerState, now: datetime, config: TriggerConfig = TriggerConfig()
) -> TriggerDecision:
    """Fires with no recorded retraining, and when the interval has elapsed since the last one."""
    _require_aware("now", now)
    interval = config.schedule_interval_seconds
    last = state.last_retrain_finished_at
    if last is None:
        values: dict[str, Any] = {"elapsed_s": None, "interval_s": interval}
        return TriggerDecision(
            "scheduled", True, "no retraining recorded: first scheduled retraining", values
        )
    elapsed = (now - last).total_seconds()
    values = {"elapsed_s": round(elapsed), "interval_s": interval, "last": last.isoformat()}
    fired = elapsed >= interval
    op = ">=" if fired else "<"
    reason = (
        f"{_human(elapsed)} since the last retraining at {last.isoformat()} {op} "
        f"interval {_human(interval)}"
    )
    return TriggerDecision("scheduled", fired, reason, values)


def evaluate(
    state: TriggerState,
    now: datetime,
    config: TriggerConfig = TriggerConfig(),
    types: Sequence[str] | None = None,
) -> list[TriggerDecision]:
    """All decisions (fired or not), in canonical order, for requested types that are enabled."""
    if types is not None:
        _check_types("types", types)
    wanted = set(config.enabled_types if types is None else types) & set(config.enabled_types)
    out: list[TriggerDecision] = []
    for t in TRIGGER_TYPES:
        if t not in wanted:
            continue
        if t == "drift_threshold":
            out.append(drift_decision(state, config))
        elif t == "quality_drop":
            out.append(quality_decision(state, config))
        elif t == "data_count":
            out.append(data_count_decision(state, config))
        else:
            out.append(schedule_decision(state, now, config))
    return out


def gate(state: TriggerState, now: datetime, config: TriggerConfig = TriggerConfig()) -> str | None:
    """Why a launch must wait (one in flight, or cooldown time left), or None when it may go."""
    _require_aware("now", now)
    if state.in_flight or state.last_retrain_status == "running":
        return f"a retraining is already in flight for deployment {state.deployment_id}"
    marks = [t for t in (state.last_attempt_at, state.last_retrain_finished_at) if t is not None]
    if not marks or config.cooldown_seconds == 0:
        return None
    last = max(marks)
    left = config.cooldown_seconds - (now - last).total_seconds()
    if left <= 0:
        return None
    status = state.last_retrain_status or "unknown"
    return (
        f"cooldown for deployment {state.deployment_id}: last attempt at {last.isoformat()} "
        f"({status}), {_human(left)} left of {_human(config.cooldown_seconds)}"
    )


def coalesce(
    deployment_id: str, decisions: Sequence[TriggerDecision], window: str
) -> LaunchPlan | None:
    """One launch plan for all fired decisions (sorted by type), or None when none fired."""
    if not deployment_id:
        raise ValueError("deployment_id: must be a non-empty string")
    fired = sorted((d for d in decisions if d.fired), key=lambda d: d.type)
    if not fired:
        return None
    types = [d.type for d in fired]
    if len(set(types)) != len(types):
        raise ValueError(f"decisions: duplicate trigger types {types}")
    run_key = f"{deployment_id}:{'+'.join(types)}:{window}"
    tags = {
        TAG_DEPLOYMENT: deployment_id,
        TAG_TRIGGERS: "+".join(types),
        TAG_TRIGGER_VALUES: _short_values_json(fired),
    }
    return LaunchPlan(run_key, [d.reason for d in fired], list(types), tags)


def fired_only(decisions: Sequence[TriggerDecision]) -> list[TriggerDecision]:
    """The fired decisions, as the original `check_triggers` returned them."""
    return [d for d in decisions if d.fired]


def _short_values_json(decisions: Sequence[TriggerDecision]) -> str:
    full = {d.type: {k: _short(v) for k, v in d.values.items()} for d in decisions}
    text = json.dumps(full, separators=(",", ":"), sort_keys=True)
    if len(text) <= MAX_TAG_VALUES_CHARS:
        return text
    # Too long: keep scalars only (lists of windows/scores are what grows).
    scalars = {
        t: {k: v for k, v in vals.items() if not isinstance(v, list)} for t, vals in full.items()
    }
    text = json.dumps(scalars, separators=(",", ":"), sort_keys=True)
    return text[:MAX_TAG_VALUES_CHARS]


def _short(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return round(v, 4) if math.isfinite(v) else None
    if isinstance(v, (np.integer, np.floating)):
        return _short(v.item())
    if isinstance(v, (list, tuple)):
        return [_short(x) for x in v]
    return str(v)


def _human(seconds: float) -> str:
    td = timedelta(seconds=max(0, round(seconds)))
    hours, rem = divmod(int(td.total_seconds()), 3600)
    minutes, secs = divmod(rem, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
