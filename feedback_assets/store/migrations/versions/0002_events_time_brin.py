"""PostgreSQL: a BRIN index on events.timestamp_us instead of a B-tree.

Events arrive in time order, so BRIN serves time-range reads at a fraction of a B-tree's insert
cost. SQLite keeps its B-tree.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_events_time")
        op.create_index("ix_events_time", "events", ["timestamp_us"], postgresql_using="brin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_events_time")
        op.create_index("ix_events_time", "events", ["timestamp_us"])
