"""events.pii_version: the PII pattern set the SDK redacted an event with; (deployment_id,
timestamp_us) indexes on sanitized_logs and quality_scores for the cross-day reads of sensors and
reference windows.

sanitized_logs redacts only events whose version is not the current one (older or absent), so
rows stored before this revision (NULL) are redacted as before.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEXES = {
    "sanitized_logs": "ix_sanitized_logs_deployment_time",
    "quality_scores": "ix_quality_scores_deployment_time",
}


def upgrade() -> None:
    # Idempotent: a new store is created from schema.py with the column and the indexes.
    inspector = sa.inspect(op.get_bind())
    if "pii_version" not in {c["name"] for c in inspector.get_columns("events")}:
        with op.batch_alter_table("events") as batch:
            batch.add_column(sa.Column("pii_version", sa.String(32)))
    for table, name in INDEXES.items():
        if name not in {ix["name"] for ix in inspector.get_indexes(table)}:
            op.create_index(name, table, ["deployment_id", "timestamp_us"])


def downgrade() -> None:
    for table, name in INDEXES.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("pii_version")
