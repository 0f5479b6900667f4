"""Derived tables get a unique row key per deployment-day; existing duplicates are removed.

Two concurrent replaces of one partition used to leave two copies of its rows (PostgreSQL,
READ COMMITTED). The first copy of each key is kept (lowest rowid/ctid); the others are deleted
before the unique index is built.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (not imported from schema.py): a revision must not change when the schema does.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "sanitized_logs": ("event_id",),
    "sanitized_signals": ("signal_id",),
    "quality_scores": ("event_id",),
    "drift_results": ("type", "feature", "test"),
    "curated_examples": ("event_id",),
}


def _dedupe(table: str, columns: list[str]) -> None:
    keys = ", ".join(columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM (SELECT ctid, row_number() "
            f"OVER (PARTITION BY {keys} ORDER BY ctid) AS n FROM {table}) AS ranked WHERE n > 1)"
        )
    else:
        op.execute(
            f"DELETE FROM {table} WHERE rowid NOT IN (SELECT min(rowid) FROM {table} GROUP BY {keys})"
        )


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, key in ROW_KEYS.items():
        name = f"ux_{table}_row"
        if name in {ix["name"] for ix in inspector.get_indexes(table)}:
            continue  # made by 0001 from today's schema.py (a CLI upgrade of an empty database)
        columns = ["partition_key", "deployment_id", *key]
        _dedupe(table, columns)
        op.create_index(name, table, columns, unique=True)


def downgrade() -> None:
    for table in ROW_KEYS:
        op.drop_index(f"ux_{table}_row", table_name=table)
