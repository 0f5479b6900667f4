"""erasure_log: one row per forget_user call (HMAC of the user id, counts, models; no raw id).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("erasure_log"):
        return  # idempotent: 0001 on an empty database already made it from schema.py
    op.create_table(
        "erasure_log",
        sa.Column("erasure_id", sa.String(64), primary_key=True),
        sa.Column("user_hash", sa.String(128), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_erasure_log_user", "erasure_log", ["user_hash", "created_us"])


def downgrade() -> None:
    op.drop_index("ix_erasure_log_user", table_name="erasure_log")
    op.drop_table("erasure_log")
