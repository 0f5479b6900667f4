"""check_triggers (the facade and the pipeline op): every decision on a fresh window of traffic.

The same snapshot the sensors read (store/trigger_state.py) and the same registry and decision
functions; only the quality window differs: it is the requested window of ingested traffic,
scored on the fly, and drift gets a fresh verdict on that window first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.plan import evaluate
from feedback_assets.domain.triggers.registry import canonical_types, trigger_types
from feedback_assets.domain.triggers.state import TriggerConfig
from feedback_assets.services.drift_reports import judge_window
from feedback_assets.services.windows import WindowSettings, fresh_window, reference_window
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.trigger_state import QUALITY_WINDOW, load_trigger_state

HOUR_US = 3_600_000_000
SOURCE = "check_triggers"


def window_events(
    store: FeedbackStore, deployment_id: str, window_hours: float | None
) -> pd.DataFrame:
    """The last `window_hours` before the deployment's latest event, or its latest 1000 events."""
    if window_hours is None:
        return store.read_events(deployment_id=deployment_id, latest=QUALITY_WINDOW)
    if window_hours <= 0:
        raise ValueError(f"window_hours: must be > 0, got {window_hours}")
    _, latest = store.time_range(deployment_id)
    end = (latest or 0) + 1
    return store.read_events(
        deployment_id=deployment_id, start_us=end - int(window_hours * HOUR_US), end_us=end
    )


def check_deployment(
    store: FeedbackStore,
    deployment_id: str,
    config: TriggerConfig,
    settings: WindowSettings,
    *,
    types: Sequence[str] | None = None,
    window_hours: float | None = None,
    now: datetime | None = None,
) -> list[TriggerDecision]:
    """Every decision (fired or not) for the requested types (aliases accepted) that are enabled.

    Works on a store holding only ingested events: the window is sanitized and scored here, and
    a fresh drift verdict on it joins the drift history before the snapshot is read.
    """
    wanted = canonical_types(types) if types is not None else None
    enabled = config.enabled_types if config.enabled_types is not None else trigger_types()
    events = window_events(store, deployment_id, window_hours)
    fresh = fresh_window(store, events, settings)
    current = fresh.window
    if "drift_threshold" in (wanted if wanted is not None else enabled) and len(events):
        reference, ref_id = reference_window(store, deployment_id, settings)
        judge_window(
            store,
            reference,
            ref_id,
            current,
            deployment_id=deployment_id,
            config=settings.drift,
            embed=settings.embed,
            source=SOURCE,
        )
    # The window is the quality sample: its scores, not the rolling or live ones.
    state = replace(
        load_trigger_state(store, deployment_id), quality_scores=fresh.scores(), live_quality=None
    )
    return evaluate(state, now or datetime.now(UTC), config, types=wanted)
