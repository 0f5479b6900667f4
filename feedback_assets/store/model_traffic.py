"""Live traffic of one model version, counted in SQL: answers, low-quality answers, thumbs-down
and regenerate clicks. The regression watch reads only these counts (a sensor stays fast)."""

from __future__ import annotations

import sqlalchemy as sa

from feedback_assets.domain.evaluation.model_regression import VersionCounts
from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore


def version_counts(
    store: FeedbackStore,
    deployment_id: str,
    model_version_id: str,
    start_us: int,
    end_us: int,
    quality_floor: float,
) -> VersionCounts:
    e, s, q = schema.events, schema.signals, schema.quality_scores
    in_window = [
        e.c.deployment_id == deployment_id,
        e.c.model_version_id == model_version_id,
        e.c.timestamp_us >= start_us,
        e.c.timestamp_us < end_us,
    ]
    events = sa.select(sa.func.count()).select_from(e).where(*in_window)
    signals = (
        sa.select(s.c.signal_type, sa.func.count(sa.distinct(s.c.event_id)))
        .select_from(s.join(e, s.c.event_id == e.c.event_id))
        .where(*in_window, s.c.signal_type.in_(("thumbs_down", "regenerate")))
        .group_by(s.c.signal_type)
    )
    quality = sa.select(
        sa.func.count(sa.distinct(q.c.event_id)),
        sa.func.coalesce(sa.func.sum(sa.case((q.c.score < quality_floor, 1), else_=0)), 0),
    ).where(
        q.c.deployment_id == deployment_id,
        q.c.model_version_id == model_version_id,
        q.c.timestamp_us >= start_us,
        q.c.timestamp_us < end_us,
    )
    with store.engine.connect() as conn:
        n = int(conn.execute(events).scalar() or 0)
        by_type = {str(t): int(c) for t, c in conn.execute(signals)}
        scored, low = conn.execute(quality).one()
    return VersionCounts(
        model_version_id,
        events=n,
        scored=int(scored or 0),
        low_quality=int(low or 0),
        thumbs_down=by_type.get("thumbs_down", 0),
        regenerate=by_type.get("regenerate", 0),
    )
