"""Alerts: what happened, which ones are due (de-duplicated with a cooldown), the Slack message.

Pure. An alert is keyed by deployment and reason; one is sent at most once per cooldown per key.
The sensor keeps `AlertState` in its cursor: when each key was last sent, and how far each
source has read (its watermark). A source's watermark only moves once every alert it produced
was sent or deliberately held back, so an alert a dead webhook refused is tried again next tick.
Messages carry names and numbers only, never traffic text (it may quote users).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ICONS = {"drift": ":chart_with_upwards_trend:", "quality_drop": ":small_red_triangle_down:"}
DEFAULT_ICON = ":rotating_light:"


@dataclass(frozen=True)
class Alert:
    source: str  # the registry entry that found it
    deployment_id: str
    reason: str  # "drift", "quality_drop", "check_failed:<asset>:<check>", "model_rejected", ...
    title: str
    detail: str
    at_us: int  # when it happened

    @property
    def key(self) -> str:
        return f"{self.deployment_id}|{self.reason}"


@dataclass
class AlertState:
    sent: dict[str, float] = field(default_factory=dict)  # key -> epoch seconds last sent
    marks: dict[str, int] = field(default_factory=dict)  # source -> watermark

    @classmethod
    def from_cursor(cls, cursor: str | None) -> AlertState:
        """The state a cursor holds; an unreadable cursor starts over (never crashes a tick)."""
        try:
            data = json.loads(cursor) if cursor else {}
            return cls(
                {str(k): float(v) for k, v in dict(data.get("sent", {})).items()},
                {str(k): int(v) for k, v in dict(data.get("marks", {})).items()},
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def to_cursor(self) -> str:
        return json.dumps({"sent": self.sent, "marks": self.marks}, sort_keys=True)


@dataclass(frozen=True)
class AlertPlan:
    due: list[Alert]
    held: list[Alert]  # within the cooldown of the same deployment and reason


def plan_alerts(
    alerts: Iterable[Alert], state: AlertState, now_s: float, cooldown_s: float
) -> AlertPlan:
    """The newest alert of each key, unless that key was sent less than `cooldown_s` ago."""
    latest: dict[str, Alert] = {}
    for alert in alerts:
        if alert.key not in latest or alert.at_us >= latest[alert.key].at_us:
            latest[alert.key] = alert
    due: list[Alert] = []
    held: list[Alert] = []
    for key, alert in sorted(latest.items()):
        last = state.sent.get(key)
        (held if last is not None and now_s - last < cooldown_s else due).append(alert)
    return AlertPlan(due, held)


def advance(
    state: AlertState,
    sent: Sequence[Alert],
    failed: Sequence[Alert],
    marks: Mapping[str, int | None],
    now_s: float,
) -> AlertState:
    """The state after a tick: sent keys stamped; each source's watermark moved unless one of
    its alerts failed (so it is found again next tick)."""
    new = AlertState(dict(state.sent), dict(state.marks))
    for alert in sent:
        new.sent[alert.key] = now_s
    blocked = {a.source for a in failed}
    for source, mark in marks.items():
        if mark is not None and source not in blocked:
            new.marks[source] = max(mark, new.marks.get(source, mark))
    return new


def slack_message(alert: Alert) -> dict[str, Any]:
    """Slack-compatible JSON: `text` (notifications, plain webhooks) and Block Kit `blocks`."""
    icon = ICONS.get(alert.reason, DEFAULT_ICON)
    when = datetime.fromtimestamp(alert.at_us / 1e6, UTC).isoformat(timespec="seconds")
    context = f"deployment `{alert.deployment_id}` · reason `{alert.reason}` · {when}"
    return {
        "text": f"{icon} {alert.title}: {alert.detail}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.detail[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }
