"""The trigger types: one entry each, the single list the sensors, schedule, op and facade read.

Adding a trigger type: its entry here, its decision function (decisions.py or a module of its
own), its test. defs/retraining_sensors.py builds one Dagster sensor per entry of kind "sensor";
the kind "schedule" entry is evaluated by the `scheduled_retraining` schedule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.decisions import (
    data_count_decision,
    drift_decision,
    quality_decision,
    schedule_decision,
)
from feedback_assets.domain.triggers.state import TriggerConfig, TriggerState

Kind = Literal["sensor", "schedule"]


class Decide(Protocol):
    def __call__(
        self, state: TriggerState, *, now: datetime, config: TriggerConfig
    ) -> TriggerDecision: ...


def day_key(state: TriggerState, now: datetime) -> str:
    return now.strftime("%Y-%m-%d")


def latest_drift_window(state: TriggerState, now: datetime) -> str:
    return state.drift_windows[-1].window if state.drift_windows else day_key(state, now)


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    decide: Decide
    kind: Kind
    definition: str  # the Dagster sensor (kind "sensor") or schedule (kind "schedule") running it
    description: str
    aliases: tuple[str, ...] = ()  # the original library's names for it
    threshold_field: str | None = None  # its TriggerConfig field; None: TriggerConfig.extra[name]
    default_threshold: float | None = None  # when threshold_field is None
    # Same reason, same run key: the window a launch is keyed on (the day, or the drift window).
    window_key: Callable[[TriggerState, datetime], str] = day_key


TRIGGERS: dict[str, TriggerSpec] = {
    spec.name: spec
    for spec in (
        TriggerSpec(
            "drift_threshold",
            drift_decision,
            "sensor",
            "drift_retraining_sensor",
            "Retrain a deployment after N consecutive drifted windows (hysteresis).",
            aliases=("drift",),
            threshold_field="drift_threshold",
            window_key=latest_drift_window,
        ),
        TriggerSpec(
            "quality_drop",
            quality_decision,
            "sensor",
            "quality_drop_retraining_sensor",
            "Retrain a deployment whose rolling mean quality fell below the threshold.",
            aliases=("accuracy", "feedback"),
            threshold_field="quality_threshold",
        ),
        TriggerSpec(
            "data_count",
            data_count_decision,
            "sensor",
            "data_count_retraining_sensor",
            "Retrain once enough new curated examples arrived since the last retraining.",
            aliases=("volume",),
            threshold_field="data_count_threshold",
        ),
        TriggerSpec(
            "scheduled",
            schedule_decision,
            "schedule",
            "scheduled_retraining",
            "Retrain each deployment when schedule_interval_seconds passed since its last "
            "retraining.",
            aliases=("schedule",),
            threshold_field="schedule_interval_seconds",
        ),
    )
}


def trigger_types() -> tuple[str, ...]:
    """Registered names, in registry order (the order decisions are listed in)."""
    return tuple(TRIGGERS)


def aliases() -> dict[str, str]:
    """The original library's names (drift, accuracy, feedback, volume, schedule) -> ours."""
    return {alias: s.name for s in TRIGGERS.values() for alias in s.aliases}


def sensor_triggers() -> list[TriggerSpec]:
    """The types a sensor evaluates; they fold into one run when they fire together."""
    return [s for s in TRIGGERS.values() if s.kind == "sensor"]


def canonical_types(names: Iterable[str], field: str = "trigger_types") -> list[str]:
    """Registered names, with the original library's aliases (drift, accuracy, ...) resolved."""
    if isinstance(names, str):
        raise ValueError(f"{field}: expected a list of trigger types, got the string {names!r}")
    known = aliases()
    out = [known.get(n, n) for n in names]
    unknown = sorted(set(out) - set(TRIGGERS))
    if unknown:
        raise ValueError(f"{field}: unknown {unknown}; use {sorted([*known, *TRIGGERS])}")
    return list(dict.fromkeys(out))


def threshold(config: TriggerConfig, name: str) -> float:
    """A type's threshold: its config field, or config.extra for types without one."""
    spec = TRIGGERS[name]
    if spec.threshold_field is not None:
        return float(getattr(config, spec.threshold_field))
    value = config.extra.get(name, spec.default_threshold)
    if value is None:
        raise ValueError(f"extra: no threshold for trigger type {name!r} and no default")
    return float(value)


def with_threshold(config: TriggerConfig, types: Sequence[str], value: float) -> TriggerConfig:
    """`config` with each type's threshold set to `value`, in that type's unit and number type."""
    fields: dict[str, float | int] = {}
    extra = dict(config.extra)
    for name in canonical_types(types):
        field = TRIGGERS[name].threshold_field
        if field is None:
            extra[name] = float(value)
        else:
            current = getattr(config, field)
            fields[field] = int(value) if isinstance(current, int) else float(value)
    return dataclasses.replace(config, extra=extra, **fields)  # type: ignore[arg-type]
