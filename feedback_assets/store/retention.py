"""Retention on the feedback store: raw rows older than a cutoff go, counted per deployment."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore


def purge_raw(store: FeedbackStore, cutoff_us: int) -> dict[str, Any]:
    """Delete events and signals older than `cutoff_us` (by their timestamp), the signals of
    those events, and dead letters received before it; one transaction.

    Returns the rows deleted per table and the events deleted per deployment.
    """
    e, s, d = schema.events, schema.signals, schema.dead_letters
    old_events = sa.select(e.c.event_id).where(e.c.timestamp_us < cutoff_us)
    per_deployment = (
        sa.select(e.c.deployment_id, sa.func.count())
        .where(e.c.timestamp_us < cutoff_us)
        .group_by(e.c.deployment_id)
        .order_by(e.c.deployment_id)
    )
    with store.engine.begin() as conn:
        by_deployment = {str(dep): int(n) for dep, n in conn.execute(per_deployment)}
        # Signals first: a signal of a purged event goes with it, even if it came later.
        signals = conn.execute(
            s.delete().where(sa.or_(s.c.timestamp_us < cutoff_us, s.c.event_id.in_(old_events)))
        ).rowcount
        events = conn.execute(e.delete().where(e.c.timestamp_us < cutoff_us)).rowcount
        dead = conn.execute(d.delete().where(d.c.received_us < cutoff_us)).rowcount
    return {
        "events": int(events or 0),
        "signals": int(signals or 0),
        "dead_letters": int(dead or 0),
        "events_by_deployment": by_deployment,
    }
