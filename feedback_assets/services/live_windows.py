"""The live window: the last minutes of a deployment's traffic, before any partition is materialized.

One window per time bucket (bucket = the window length) under a deterministic id, so repeated
refreshes in one bucket replace a single window and the drift hysteresis counts buckets, not
refreshes. The live_drift asset refreshes it; the trigger sensors only read what it wrote.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from feedback_assets.domain.drift.drift import compare_features, unit_features
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.records import DriftReport
from feedback_assets.services.drift_inputs import reference_side
from feedback_assets.services.drift_reports import history_row, live_report
from feedback_assets.services.windows import WindowSettings, fresh_window, reference_window
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.references import ensure_reference
from feedback_assets.store.trigger_state import write_live_window

MINUTE_US = 60_000_000
MAX_KEY = 64  # drift_history.id / live_windows.id


@dataclass(frozen=True)
class LiveWindow:
    key: str
    deployment_id: str
    start_us: int
    end_us: int
    events: int
    quality_mean: float | None
    quality_n: int
    report: DriftReport | None  # None: fewer than min_samples events, no verdict


def live_key(deployment_id: str, bucket: int) -> str:
    key = f"live:{deployment_id}:{bucket}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:24]
    return f"live:{digest}:{bucket}"


def refresh_live_window(
    store: FeedbackStore,
    deployment_id: str,
    now: datetime,
    minutes: int,
    settings: WindowSettings,
) -> LiveWindow:
    """Judge the last `minutes` of traffic against the reference and store the bucket's window."""
    if minutes < 1:
        raise ValueError(f"live_window_minutes: must be >= 1, got {minutes}")
    end = int(now.timestamp() * 1_000_000) + 1
    start = end - minutes * MINUTE_US
    key = live_key(deployment_id, (end - 1) // (minutes * MINUTE_US))
    events = store.read_events(deployment_id=deployment_id, start_us=start, end_us=end)
    fresh = fresh_window(store, events, settings)
    current, scores = fresh.window, fresh.scores()
    finite = scores[np.isfinite(scores)]
    report, history = None, None
    if len(events) >= settings.drift.min_samples:
        report, ref_id = _judge(store, deployment_id, current, settings)
        history = history_row(
            report, ref_id, row_id=key, source="live", window=(start, end), created_us=now_us()
        )
    window = LiveWindow(
        key,
        deployment_id,
        start,
        end,
        len(events),
        float(finite.mean()) if finite.size else None,
        int(finite.size),
        report,
    )
    write_live_window(store, _row(window), history)
    return window


def _judge(
    store: FeedbackStore, deployment_id: str, current: Window, settings: WindowSettings
) -> tuple[DriftReport, str | None]:
    """The live window against the reference's cached side (stored features, built once per
    reference); a reference with no stored features yet is read and scored from its events."""
    ref = ensure_reference(store, deployment_id, settings.reference_days)
    side = reference_side(store, ref, settings.drift)
    if side is None or ref is None:
        reference, ref_id = reference_window(store, deployment_id, settings)
        report = live_report(reference, current, deployment_id=deployment_id, config=settings.drift)
        return report, ref_id
    cur = unit_features(current.events, current.quality, current.signals, settings.drift)
    report = compare_features(
        side.features(settings.drift), cur, settings.drift, deployment_id=deployment_id
    )
    return report, str(ref["reference_id"])


def _row(window: LiveWindow) -> dict[str, object]:
    return {
        "id": window.key,
        "deployment_id": window.deployment_id,
        "window_start_us": window.start_us,
        "window_end_us": window.end_us,
        "events": window.events,
        "quality_mean": window.quality_mean,
        "quality_n": window.quality_n,
        "drift_history_id": window.key if window.report is not None else None,
        "created_us": now_us(),
    }
