"""Live windows for the sensors: the last minutes of traffic, before any partition is materialized.

Drift gets one verdict per time bucket (bucket = the window length), kept in the drift history
under a deterministic id, so repeated ticks in one bucket update a single window and the
hysteresis counts buckets, not ticks. Quality is the stored scores plus the newer, not yet
materialized events scored on the fly.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import sqlalchemy as sa

from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.facade.drift_io import detect, scored
from feedback_assets.store import FeedbackStore, schema

MINUTE_US = 60_000_000


def _us(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


def refresh_live_drift(
    store: FeedbackStore,
    deployment_id: str,
    now: datetime,
    minutes: int,
    config: DriftConfig = DriftConfig(),
) -> str | None:
    """Judge the last `minutes` of traffic against the reference; returns the window key, or None
    when the window holds fewer than min_samples events (no verdict rather than a guess)."""
    end = _us(now)
    bucket = end // (minutes * MINUTE_US)
    events = store.read_events(
        deployment_id=deployment_id, start_us=end - minutes * MINUTE_US, end_us=end + 1
    )
    if len(events) < config.min_samples:
        return None
    key = f"live:{deployment_id}:{bucket}"
    with store.engine.begin() as conn:
        conn.execute(schema.drift_history.delete().where(schema.drift_history.c.id == key))
    detect(store, deployment_id, events, config, source="sensor", history_id=key)
    return key


def live_quality_scores(store: FeedbackStore, deployment_id: str, limit: int = 1000) -> np.ndarray:
    """The latest `limit` quality scores: stored ones, plus newer events scored on the fly."""
    q = schema.quality_scores
    with store.engine.connect() as conn:
        latest = conn.execute(
            sa.select(sa.func.max(q.c.timestamp_us)).where(q.c.deployment_id == deployment_id)
        ).scalar()
    fresh = store.read_events(
        deployment_id=deployment_id,
        start_us=None if latest is None else int(latest) + 1,
        latest=limit,
    )
    stored = store.read_table(
        "quality_scores",
        deployment_id=deployment_id,
        order_by=["timestamp_us"],
        descending=True,
        limit=max(limit - len(fresh), 0),
    )
    new = scored(fresh)["score"].to_numpy(dtype=float) if len(fresh) else np.array([])
    old = stored["score"].to_numpy(dtype=float) if len(stored) else np.array([])
    return np.concatenate([new, old])
