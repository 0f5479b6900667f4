"""Evaluation gate: model_versions.status, evaluation, reasons, decided_us, and a key per
deployment (deployment_id, model_version_id): two deployments may share a base model name.

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

from feedback_assets.store import schema

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
    pk = sa.inspect(op.get_bind()).get_pk_constraint("model_versions")
    if pk.get("constrained_columns") != ["deployment_id", "model_version_id"]:
        _key_per_deployment(pk.get("name"))
    inspector = sa.inspect(op.get_bind())  # the table may be new: read its indexes again
    indexes = {i["name"] for i in inspector.get_indexes("model_versions")}
    if "ix_model_versions_deployment" not in indexes:
        op.create_index(
            "ix_model_versions_deployment", "model_versions", ["deployment_id", "registered_us"]
        )


def _key_per_deployment(old_pk_name: str | None) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(old_pk_name or "model_versions_pkey", "model_versions")
        op.create_primary_key(
            "model_versions_pkey", "model_versions", ["deployment_id", "model_version_id"]
        )
        return
    # SQLite cannot alter a key: build the table anew, copy the rows, swap the names.
    new = schema.model_versions.to_metadata(sa.MetaData(), name="model_versions_new")
    for index in list(new.indexes):  # made under the final name afterwards
        new.indexes.discard(index)
    new.create(op.get_bind())
    names = ", ".join(c.name for c in new.columns)
    op.execute(f"INSERT INTO model_versions_new ({names}) SELECT {names} FROM model_versions")
    op.drop_table("model_versions")
    op.rename_table("model_versions_new", "model_versions")


def downgrade() -> None:
    op.drop_index("ix_model_versions_deployment", table_name="model_versions")
    with op.batch_alter_table("model_versions") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
