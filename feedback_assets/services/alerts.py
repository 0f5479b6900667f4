"""Alert sources and one alert tick: collect, de-duplicate, send, and the state to keep.

The sources are a registry: adding a reason to alert on is one entry in ALERT_SOURCES (its
collect function reads precomputed state and returns alerts plus its new watermark). A source
that raises is reported and skipped; the others still run. Messages hold names and numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feedback_assets.domain.alerts.alerts import (
    Alert,
    AlertState,
    advance,
    plan_alerts,
    slack_message,
)
from feedback_assets.domain.triggers.registry import TRIGGERS
from feedback_assets.domain.triggers.state import TriggerConfig
from feedback_assets.resources.alert_webhook import AlertDeliveryError
from feedback_assets.store import FeedbackStore, now_us
from feedback_assets.store.alerts import drifted_since, model_decisions_since
from feedback_assets.store.trigger_state import load_trigger_state


@dataclass(frozen=True)
class FailedCheck:
    """A failed evaluation of a blocking asset check, as the Dagster instance recorded it."""

    asset: str
    check: str
    partition: str | None
    storage_id: int
    at_us: int
    description: str | None = None


# (after storage id or None, since_us) -> (failed blocking checks, new watermark)
FailedChecks = Callable[[int | None, int], tuple[list[FailedCheck], int | None]]


@dataclass(frozen=True)
class AlertContext:
    store: FeedbackStore
    trigger_config: TriggerConfig
    now: datetime
    since_us: int  # a source's first read looks no further back than this
    failed_checks: FailedChecks | None = None  # None: no Dagster instance to read


Collect = Callable[[AlertContext, int | None], tuple[list[Alert], int | None]]


@dataclass(frozen=True)
class AlertSource:
    name: str
    collect: Collect
    description: str


def _features(reasons: str) -> str:
    """The drifted features' names (a reason may quote traffic; its name part never does)."""
    names = [str(r).split(":", 1)[0] for r in json.loads(reasons or "[]")]
    return ", ".join(dict.fromkeys(names)) or "no feature named"


def drift_alerts(ctx: AlertContext, mark: int | None) -> tuple[list[Alert], int | None]:
    rows = drifted_since(ctx.store, ctx.since_us if mark is None else mark)
    alerts = [
        Alert(
            "drift",
            str(r["deployment_id"]),
            "drift",
            f"{r['deployment_id']} drifted",
            f"{r['severity']} (score {float(r['score']):.2f}) in "
            f"{r['partition_key'] or 'the live window'}, {r['source']}; "
            f"features: {_features(r['reasons'])}",
            int(r["created_us"]),
        )
        for r in rows.to_dict("records")
    ]
    return alerts, int(rows["created_us"].max()) if len(rows) else mark


def quality_alerts(ctx: AlertContext, mark: int | None) -> tuple[list[Alert], int | None]:
    """The quality_drop trigger's own decision on each deployment's stored state."""
    decide = TRIGGERS["quality_drop"].decide
    alerts = []
    for deployment in ctx.store.deployments():
        state = load_trigger_state(ctx.store, deployment)
        decision = decide(state, now=ctx.now, config=ctx.trigger_config)
        if decision.fired:
            title = f"{deployment}: quality dropped"
            alerts.append(
                Alert("quality_drop", deployment, "quality_drop", title, decision.reason, now_us())
            )
    return alerts, None


def _deployment_of(partition: str | None) -> str:
    """`day|deployment` (the loop's partitions) or `deployment`; unpartitioned: all."""
    if not partition:
        return "all deployments"
    return partition.rsplit("|", 1)[-1]


def check_alerts(ctx: AlertContext, mark: int | None) -> tuple[list[Alert], int | None]:
    if ctx.failed_checks is None:
        return [], mark
    found, new_mark = ctx.failed_checks(mark, ctx.since_us)
    alerts = []
    for c in found:
        deployment = _deployment_of(c.partition)
        detail = f"partition {c.partition or '(none)'}" + (
            f": {c.description}" if c.description else ""
        )
        title = f"{deployment}: blocking check {c.check} on {c.asset} failed"
        alerts.append(
            Alert(
                "check_failed",
                deployment,
                f"check_failed:{c.asset}:{c.check}",
                title,
                detail,
                c.at_us,
            )
        )
    return alerts, new_mark


MODEL_DECISIONS = {"rejected": "model_rejected", "rolled_back": "model_rolled_back"}


def model_alerts(ctx: AlertContext, mark: int | None) -> tuple[list[Alert], int | None]:
    rows = model_decisions_since(
        ctx.store, tuple(MODEL_DECISIONS), ctx.since_us if mark is None else mark
    )
    alerts = [
        Alert(
            "model_decision",
            str(r["deployment_id"]),
            MODEL_DECISIONS[str(r["status"])],
            f"{r['deployment_id']}: model {r['model_version_id']} {str(r['status']).replace('_', ' ')}",
            f"model {r['model_version_id']} was "
            + (
                "rejected by the evaluation gate"
                if r["status"] == "rejected"
                else "rolled back: its live traffic was worse than its predecessor's"
            ),
            int(r["decided_us"]),
        )
        for r in rows.to_dict("records")
    ]
    return alerts, int(rows["decided_us"].max()) if len(rows) else mark


ALERT_SOURCES: dict[str, AlertSource] = {
    s.name: s
    for s in (
        AlertSource("drift", drift_alerts, "a deployment's drift verdict (drift_history)"),
        AlertSource("quality_drop", quality_alerts, "the quality_drop trigger fires"),
        AlertSource("check_failed", check_alerts, "a blocking asset check failed"),
        AlertSource("model_decision", model_alerts, "a candidate model rejected or rolled back"),
    )
}


@dataclass
class AlertOutcome:
    state: AlertState
    sent: list[Alert] = field(default_factory=list)
    held: list[Alert] = field(default_factory=list)
    failed: list[Alert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # a source that raised, a send that failed

    def summary(self) -> str:
        parts = [f"sent {len(self.sent)}", f"held by cooldown {len(self.held)}"]
        if self.failed:
            parts.append(f"kept for the next tick {len(self.failed)}")
        text = "alerts: " + ", ".join(parts)
        return f"{text}; {'; '.join(self.errors)}" if self.errors else text


def collect_alerts(
    ctx: AlertContext, state: AlertState
) -> tuple[list[Alert], dict[str, int | None], list[str]]:
    alerts: list[Alert] = []
    marks: dict[str, int | None] = {}
    errors: list[str] = []
    for name, source in ALERT_SOURCES.items():
        try:
            found, marks[name] = source.collect(ctx, state.marks.get(name))
            alerts.extend(found)
        except Exception as exc:  # one broken source must not silence the others
            errors.append(f"source {name} failed: {type(exc).__name__}")
    return alerts, marks, errors


def run_alerts(
    ctx: AlertContext,
    state: AlertState,
    send: Callable[[dict[str, Any]], None],
    cooldown_s: float,
) -> AlertOutcome:
    """One tick: collect from every source, send what is due, return the state to keep."""
    alerts, marks, errors = collect_alerts(ctx, state)
    now_s = ctx.now.astimezone(UTC).timestamp()
    plan = plan_alerts(alerts, state, now_s, cooldown_s)
    outcome = AlertOutcome(state, held=plan.held, errors=errors)
    for alert in plan.due:
        if outcome.failed:  # the destination is down: keep the rest for the next tick
            outcome.failed.append(alert)
            continue
        try:
            send(slack_message(alert))
            outcome.sent.append(alert)
        except Exception as exc:  # only our own errors are worded safely enough to show
            outcome.failed.append(alert)
            safe = isinstance(exc, AlertDeliveryError)
            outcome.errors.append(str(exc) if safe else f"send failed: {type(exc).__name__}")
    outcome.state = advance(state, outcome.sent, outcome.failed, marks, now_s)
    return outcome
