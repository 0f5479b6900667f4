"""Curation roles: curated_examples.role and the prompt_splits table (the frozen eval split).

Rows curated before roles existed become "legacy": they were selected without an approval bar,
so no SFT export takes them until their partition is curated again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("curated_examples")}
    if "role" not in columns:  # idempotent: 0001 on an empty database already made it
        with op.batch_alter_table("curated_examples") as batch:
            batch.add_column(
                sa.Column("role", sa.String(16), nullable=False, server_default="legacy")
            )
    if not inspector.has_table("prompt_splits"):
        op.create_table(
            "prompt_splits",
            sa.Column("deployment_id", sa.String(256), primary_key=True),
            sa.Column("prompt_key", sa.String(16), primary_key=True),
            sa.Column("cluster_key", sa.String(16), nullable=False),
            sa.Column("split", sa.String(8), nullable=False),
            sa.Column("prompt", sa.Text, nullable=False),
            sa.Column("reference_answer", sa.Text),
            sa.Column("source", sa.String(32)),
            sa.Column("event_id", sa.String(64)),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("partition_key", sa.String(32)),
            sa.Column("created_us", sa.BigInteger, nullable=False),
        )
        op.create_index("ix_prompt_splits_split", "prompt_splits", ["deployment_id", "split"])


def downgrade() -> None:
    op.drop_index("ix_prompt_splits_split", table_name="prompt_splits")
    op.drop_table("prompt_splits")
    with op.batch_alter_table("curated_examples") as batch:
        batch.drop_column("role")
