"""Evaluation gate: model_versions.status, evaluation, reasons, decided_us.

Versions registered before the gate were made current on registration, so they become
"promoted".

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = (
    (
        "status",
        lambda: sa.Column("status", sa.String(16), nullable=False, server_default="promoted"),
    ),
    ("evaluation", lambda: sa.Column("evaluation", sa.Text)),
    ("reasons", lambda: sa.Column("reasons", sa.Text)),
    ("decided_us", lambda: sa.Column("decided_us", sa.BigInteger)),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("model_versions")}
    missing = [make() for name, make in NEW_COLUMNS if name not in columns]
    if missing:  # idempotent: 0001 on an empty database already made them
        with op.batch_alter_table("model_versions") as batch:
            for column in missing:
                batch.add_column(column)
    indexes = {i["name"] for i in inspector.get_indexes("model_versions")}
    if "ix_model_versions_deployment" not in indexes:
        op.create_index(
            "ix_model_versions_deployment", "model_versions", ["deployment_id", "registered_us"]
        )


def downgrade() -> None:
    op.drop_index("ix_model_versions_deployment", table_name="model_versions")
    with op.batch_alter_table("model_versions") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
