"""events.pii_version: the PII pattern set the SDK redacted an event with.

sanitized_logs redacts only events whose version is not the current one (older or absent), so
rows stored before this revision (NULL) are redacted as before.

Revision ID: 0010
Revises: 0008
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("events")}
    if "pii_version" in columns:
        return  # idempotent: a new store is created from schema.py with the column
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("pii_version", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("pii_version")
