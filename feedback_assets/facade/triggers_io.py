"""check_triggers on the feedback store: fresh drift and quality, then the trigger decisions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers import TriggerConfig, evaluate, fired_only
from feedback_assets.facade.drift_io import scored
from feedback_assets.store import FeedbackStore
from feedback_assets.store.trigger_state import QUALITY_WINDOW, load_trigger_state


def fired_triggers(
    store: FeedbackStore, deployment_id: str, detect_drift: Callable[..., Any], **overrides: Any
) -> list[TriggerDecision]:
    types = overrides.pop("trigger_types", None)
    config = TriggerConfig.from_overrides(**overrides)
    detect_drift(deployment_id)  # a fresh window joins the persisted drift history
    state = load_trigger_state(store, deployment_id)
    if len(state.quality_scores) == 0:
        # A store of raw events only: score the latest events on the fly.
        events = store.read_events(deployment_id=deployment_id, latest=QUALITY_WINDOW)
        state = replace(state, quality_scores=scored(events)["score"].to_numpy(dtype=float))
    return fired_only(evaluate(state, datetime.now(UTC), config, types=types))
