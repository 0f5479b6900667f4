"""Alembic's alembic_version table takes over from the hand-made schema_version table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS schema_version")


def downgrade() -> None:
    table = op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("applied_us", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"version": 2, "applied_us": 0}])
