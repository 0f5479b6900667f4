"""live_windows: the live_drift asset's per-bucket quality aggregate and drift verdict id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("live_windows"):
        return  # `alembic upgrade` from 0001 on an empty database: 0001 made it from schema.py
    op.create_table(
        "live_windows",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("deployment_id", sa.String(256), nullable=False),
        sa.Column("window_start_us", sa.BigInteger, nullable=False),
        sa.Column("window_end_us", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("quality_mean", sa.Float),
        sa.Column("quality_n", sa.Integer, nullable=False),
        sa.Column("drift_history_id", sa.String(64)),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_live_windows_deployment", "live_windows", ["deployment_id", "window_end_us"]
    )


def downgrade() -> None:
    op.drop_index("ix_live_windows_deployment", table_name="live_windows")
    op.drop_table("live_windows")
