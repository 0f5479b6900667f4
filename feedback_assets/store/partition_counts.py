"""A deployment-day's raw counts, aggregated in SQL (raw_inferences reads no rows)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore


@dataclass(frozen=True)
class PartitionCounts:
    events: int
    signals_per_type: dict[str, int]  # signals of the partition's events, whenever they arrived
    orphan_signals_day: int  # signals of the day (any deployment) whose event is unseen
    dead_letters_per_kind: dict[str, int]  # dead letters received that day (any deployment)

    @property
    def signals(self) -> int:
        return sum(self.signals_per_type.values())


def partition_counts(
    store: FeedbackStore, deployment_id: str, start_us: int, end_us: int
) -> PartitionCounts:
    e, s, d = schema.events, schema.signals, schema.dead_letters
    mine = [e.c.deployment_id == deployment_id, e.c.timestamp_us >= start_us]
    mine.append(e.c.timestamp_us < end_us)
    events = sa.select(sa.func.count()).select_from(e).where(*mine)
    per_type = (
        sa.select(s.c.signal_type, sa.func.count())
        .select_from(s.join(e, s.c.event_id == e.c.event_id))
        .where(*mine)
        .group_by(s.c.signal_type)
    )
    orphans = (
        sa.select(sa.func.count())
        .select_from(s.outerjoin(e, s.c.event_id == e.c.event_id))
        .where(s.c.timestamp_us >= start_us, s.c.timestamp_us < end_us, e.c.event_id.is_(None))
    )
    dead = (
        sa.select(d.c.kind, sa.func.count())
        .where(d.c.received_us >= start_us, d.c.received_us < end_us)
        .group_by(d.c.kind)
    )
    with store.engine.connect() as conn:
        return PartitionCounts(
            events=int(conn.execute(events).scalar() or 0),
            signals_per_type={str(k): int(n) for k, n in sorted(conn.execute(per_type).all())},
            orphan_signals_day=int(conn.execute(orphans).scalar() or 0),
            dead_letters_per_kind={str(k): int(n) for k, n in sorted(conn.execute(dead).all())},
        )
