"""One decision function per trigger type: (state, now, config) -> TriggerDecision. Pure.

Fixes over the original library: the count trigger counts only since the last retraining (so it
stops firing once a retraining happens), the schedule fires the first time without a caller-supplied
last run, and drift needs N consecutive drifted windows (hysteresis) on normalized scores.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from feedback_assets.domain.quality.quality_drop import QualityDropDecision, relative_quality_drop
from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.state import (
    DriftWindow,
    TriggerConfig,
    TriggerState,
    require_aware,
)

DEFAULT = TriggerConfig()


def _window_drifted(w: DriftWindow, threshold: float) -> bool:
    # A window without enough data has no trustworthy score, whatever it says.
    if w.severity == "insufficient_data":
        return False
    return bool(w.drifted) or (math.isfinite(w.score) and w.score >= threshold)


def drift_decision(
    state: TriggerState, config: TriggerConfig = DEFAULT, now: datetime | None = None
) -> TriggerDecision:
    """Fires when the last N windows are all drifted (score >= threshold or a drift verdict)."""
    need = config.drift_consecutive_windows
    windows = list(state.drift_windows)
    run = 0
    for w in reversed(windows):
        if not _window_drifted(w, config.drift_threshold):
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
    state: TriggerState, config: TriggerConfig = DEFAULT, now: datetime | None = None
) -> TriggerDecision:
    """Fires when the rolling mean quality is below the threshold over at least min samples.

    The rolling window is the stored scores plus the live window's aggregate (newer traffic).
    """
    scores = np.asarray(state.quality_scores, dtype=np.float64).ravel()
    finite = scores[np.isfinite(scores)]  # absent scores (NaN) are not zeros
    live = state.live_quality
    live_n = live.n if live is not None else 0
    live_sum = (live.mean or 0.0) * live_n if live is not None else 0.0
    total = float(finite.sum()) + live_sum
    n = int(finite.size) + live_n
    mean = total / n if n else float("nan")
    values: dict[str, Any] = {
        "mean": round(mean, 4) if n else None,
        "n": n,
        "ignored_non_finite": int(scores.size - finite.size),
        "threshold": config.quality_threshold,
        "min_samples": config.quality_min_samples,
    }
    if live is not None:
        values.update(live_n=live_n, live_window=live.window)
    if n < config.quality_min_samples:
        reason = (
            f"insufficient samples: {n:,} quality scores < minimum {config.quality_min_samples:,}"
        )
        return TriggerDecision("quality_drop", False, reason, values)
    if mean < config.quality_threshold:
        reason = f"quality mean {mean:.2f} < {config.quality_threshold} over {n:,} events"
        return TriggerDecision("quality_drop", True, reason, values)
    floor = f"quality mean {mean:.2f} >= {config.quality_threshold} over {n:,} events"
    relative = _relative_drop(state)
    if relative is None:
        return TriggerDecision("quality_drop", False, floor, values)
    values["relative"] = relative.values
    if relative.fired:
        return TriggerDecision("quality_drop", True, f"relative drop: {relative.reason}", values)
    return TriggerDecision("quality_drop", False, f"{floor}; {relative.reason}", values)


def _relative_drop(state: TriggerState) -> QualityDropDecision | None:
    """The latest scores after the reference window against its scores (None without one)."""
    reference = np.asarray(state.reference_quality_scores, dtype=np.float64).ravel()
    current = np.asarray(state.scores_after_reference, dtype=np.float64).ravel()
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if not reference.size:
        return None
    return relative_quality_drop(reference, current)


def data_count_decision(
    state: TriggerState, config: TriggerConfig = DEFAULT, now: datetime | None = None
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
    state: TriggerState, now: datetime, config: TriggerConfig = DEFAULT
) -> TriggerDecision:
    """Fires with no recorded retraining, and when the interval has elapsed since the last one."""
    require_aware("now", now)
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
        f"{human(elapsed)} since the last retraining at {last.isoformat()} {op} "
        f"interval {human(interval)}"
    )
    return TriggerDecision("scheduled", fired, reason, values)


def human(seconds: float) -> str:
    td = timedelta(seconds=max(0, round(seconds)))
    hours, rem = divmod(int(td.total_seconds()), 3600)
    minutes, secs = divmod(rem, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
