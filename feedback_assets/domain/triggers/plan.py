"""From a snapshot to what a tick does: evaluate, gate, coalesce, and one outcome per deployment.

Pure: no Dagster, no store. The sensors, the schedule and the check_triggers op/facade load a
TriggerState (store/trigger_state.py), call `evaluate` or `plan_tick`, and write the outcome.
A cooldown plus an in-flight guard stop a deployment from retraining twice for the same reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.decisions import human
from feedback_assets.domain.triggers.registry import TRIGGERS, sensor_triggers
from feedback_assets.domain.triggers.state import (
    TriggerConfig,
    TriggerState,
    check_types,
    require_aware,
)

TAG_DEPLOYMENT = "feedback/deployment"
TAG_TRIGGERS = "feedback/triggers"
TAG_TRIGGER_VALUES = "feedback/trigger_values"
# Run tags are shown in the UI and stored per run: keep the values tag short.
MAX_TAG_VALUES_CHARS = 1000
DEFAULT = TriggerConfig()

Action = Literal["disabled", "none", "held", "suggested", "launched"]


@dataclass(frozen=True)
class LaunchPlan:
    run_key: str
    reasons: list[str]
    trigger_types: list[str]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TickOutcome:
    """What one trigger's tick decided for one deployment, and what to record."""

    deployment_id: str
    action: Action
    recorded: list[TriggerDecision]  # appended to trigger_history with `action`
    plan: LaunchPlan | None  # set for "launched" and "suggested"
    message: str  # the skip reason line ("" when launched)


def evaluate(
    state: TriggerState,
    now: datetime,
    config: TriggerConfig = DEFAULT,
    types: Sequence[str] | None = None,
) -> list[TriggerDecision]:
    """All decisions (fired or not), in registry order, for requested types that are enabled."""
    if types is not None:
        check_types("types", types)
    enabled = set(TRIGGERS if config.enabled_types is None else config.enabled_types)
    wanted = enabled if types is None else set(types) & enabled
    return [
        spec.decide(state, now=now, config=config)
        for name, spec in TRIGGERS.items()
        if name in wanted
    ]


def gate(state: TriggerState, now: datetime, config: TriggerConfig = DEFAULT) -> str | None:
    """Why a launch must wait (one in flight, or cooldown time left), or None when it may go."""
    require_aware("now", now)
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
        f"({status}), {human(left)} left of {human(config.cooldown_seconds)}"
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


def plan_tick(
    state: TriggerState,
    now: datetime,
    config: TriggerConfig,
    trigger_type: str,
    mode: str = "launch",
) -> TickOutcome:
    """One tick of `trigger_type` for one deployment: fire, hold, suggest or launch.

    A sensor-kind trigger folds the other sensor-kind types firing at the same moment into its
    run (one run listing all reasons); a schedule-kind trigger launches for itself alone.
    """
    spec, dep = TRIGGERS[trigger_type], state.deployment_id
    types = [s.name for s in sensor_triggers()] if spec.kind == "sensor" else [spec.name]
    decisions = evaluate(state, now, config, types=types)
    mine = next((d for d in decisions if d.type == trigger_type), None)
    if mine is None:
        return TickOutcome(dep, "disabled", [], None, f"{dep}: {trigger_type} is disabled")
    if not mine.fired:
        return TickOutcome(dep, "none", [mine], None, f"{dep}: {mine.reason}")
    held = gate(state, now, config)
    if held:
        message = f"{dep}: {trigger_type} fired ({mine.reason}) but held: {held}"
        return TickOutcome(dep, "held", [mine], None, message)
    fired = fired_only(decisions)
    window = f"{state.last_retrain_run_id or 'initial'}:{spec.window_key(state, now)}"
    plan = coalesce(dep, fired, window)
    assert plan is not None  # `mine` fired
    if mode == "suggest":
        message = f"{dep}: would retrain ({'; '.join(plan.reasons)}) — suggest-only mode"
        return TickOutcome(dep, "suggested", fired, plan, message)
    return TickOutcome(dep, "launched", fired, plan, "")


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
