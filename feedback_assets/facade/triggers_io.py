"""Trigger decisions on the feedback store, for check_triggers (facade and pipeline stage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.triggers import TriggerConfig, evaluate
from feedback_assets.facade.drift_io import detect, scored
from feedback_assets.store import FeedbackStore
from feedback_assets.store.trigger_state import QUALITY_WINDOW, load_trigger_state

HOUR_US = 3_600_000_000


def evaluate_triggers(
    store: FeedbackStore,
    deployment_id: str,
    *,
    types: Sequence[str] | None = None,
    window_hours: float | None = None,
    now: datetime | None = None,
    **overrides: Any,
) -> list[TriggerDecision]:
    """Every decision for the requested types, on a fresh window of the deployment's traffic.

    The window is the last `window_hours` before the deployment's latest event (or its latest
    1000 events). Quality is scored on the fly and a fresh drift verdict joins the history, so
    this works on a store holding only ingested events.
    """
    config = TriggerConfig.from_overrides(**overrides)
    if window_hours is not None:
        if window_hours <= 0:
            raise ValueError(f"window_hours: must be > 0, got {window_hours}")
        _, latest = store.time_range(deployment_id)
        end = (latest or 0) + 1
        current = store.read_events(
            deployment_id=deployment_id, start_us=end - int(window_hours * HOUR_US), end_us=end
        )
    else:
        current = store.read_events(deployment_id=deployment_id, latest=QUALITY_WINDOW)
    wanted = list(types) if types is not None else list(config.enabled_types)
    if "drift_threshold" in wanted and len(current):
        detect(store, deployment_id, current, DriftConfig(), source="check_triggers")
    state = load_trigger_state(store, deployment_id)
    state = replace(state, quality_scores=scored(current)["score"].to_numpy(dtype=float))
    return evaluate(state, now or datetime.now(UTC), config, types=wanted)
