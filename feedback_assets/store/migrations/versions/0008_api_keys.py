"""The collector's API keys: the api_keys table (hashed keys, one deployment each).

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("api_keys"):
        return  # idempotent: a new store is created from schema.py with the table
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("deployment_id", sa.String(256), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_us", sa.BigInteger),
    )
    op.create_index("ix_api_keys_deployment", "api_keys", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_deployment", table_name="api_keys")
    op.drop_table("api_keys")
