"""What the alert sources read: new drift verdicts and model decisions, after a watermark."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore

# model_versions columns a rejection / rollback record needs (added by the evaluation gate).
DECISION_COLUMNS = ("status", "decided_us")


def drifted_since(store: FeedbackStore, after_us: int) -> pd.DataFrame:
    """drift_history rows with a drift verdict created after `after_us`, oldest first."""
    h = schema.drift_history
    query = (
        sa.select(
            h.c.deployment_id,
            h.c.partition_key,
            h.c.source,
            h.c.severity,
            h.c.score,
            h.c.reasons,
            h.c.window_start_us,
            h.c.window_end_us,
            h.c.created_us,
        )
        .where(h.c.drifted.is_(True), h.c.created_us > after_us)
        .order_by(h.c.created_us)
    )
    with store.engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def model_decisions_since(
    store: FeedbackStore, statuses: tuple[str, ...], after_us: int
) -> pd.DataFrame:
    """model_versions rows whose `status` is one of `statuses`, decided after `after_us`.

    Empty when the store predates those columns (read by name, so this needs no schema change).
    """
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("model_versions")}
    names = ["model_version_id", "deployment_id", *DECISION_COLUMNS]
    if not set(DECISION_COLUMNS) <= columns:
        return pd.DataFrame(columns=names)
    t = sa.table("model_versions", *(sa.column(n) for n in names))
    query = (
        sa.select(*(t.c[n] for n in names))
        .where(t.c.status.in_(statuses), t.c.decided_us > after_us)
        .order_by(t.c.decided_us)
    )
    with store.engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
