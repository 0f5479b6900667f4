"""Drift references per deployment: a fixed time window, set once and reset by retraining."""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us

DAY_US = 86_400 * 1_000_000


def active_reference(store: FeedbackStore, deployment_id: str) -> dict[str, Any] | None:
    frame = store.read_table(
        "drift_references",
        deployment_id=deployment_id,
        active=True,
        order_by=["created_us"],
        descending=True,
        limit=1,
    )
    return None if frame.empty else frame.iloc[0].to_dict()


def ensure_reference(
    store: FeedbackStore, deployment_id: str, reference_days: int = 2
) -> dict[str, Any] | None:
    """The active reference, creating the default one (the deployment's first days) if none."""
    current = active_reference(store, deployment_id)
    if current is not None:
        return current
    t = schema.events
    with store.engine.connect() as conn:
        first = conn.execute(
            sa.select(sa.func.min(t.c.timestamp_us)).where(t.c.deployment_id == deployment_id)
        ).scalar()
    if first is None:
        return None
    start = int(first) - int(first) % DAY_US  # whole UTC days
    return _insert(
        store,
        deployment_id,
        start,
        start + reference_days * DAY_US,
        "default: first days of traffic",
    )


def reset_reference(
    store: FeedbackStore,
    deployment_id: str,
    at_us: int,
    reason: str,
    reference_days: int = 2,
    model_version_id: str | None = None,
) -> dict[str, Any]:
    """Retire the active reference; the new one is the traffic of the days after `at_us`.
    The retired reference's cached drift inputs go with it."""
    store.update(
        "drift_references", {"deployment_id": deployment_id, "active": True}, {"active": False}
    )
    t = schema.drift_reference_cache
    with store.engine.begin() as conn:
        conn.execute(t.delete().where(t.c.deployment_id == deployment_id))
    return _insert(
        store, deployment_id, at_us, at_us + reference_days * DAY_US, reason, model_version_id
    )


def _insert(
    store: FeedbackStore,
    deployment_id: str,
    start: int,
    end: int,
    reason: str,
    model_version_id: str | None = None,
) -> dict[str, Any]:
    row = {
        "reference_id": uuid.uuid4().hex,
        "deployment_id": deployment_id,
        "model_version_id": model_version_id,
        "start_us": start,
        "end_us": end,
        "active": True,
        "reason": reason,
        "created_us": now_us(),
    }
    store.append("drift_references", pd.DataFrame([row]))
    return row


def partition_keys_between(start_us: int | None, end_us: int | None) -> list[str]:
    """UTC day keys covering [start_us, end_us]; [] for an empty range."""
    if start_us is None or end_us is None:
        return []
    days = pd.date_range(
        pd.Timestamp(start_us, unit="us", tz="UTC").floor("D"),
        pd.Timestamp(end_us - 1, unit="us", tz="UTC").floor("D"),
        freq="D",
    )
    return [d.strftime("%Y-%m-%d") for d in days]
