"""The initial schema: every table in schema.py.

New stores never run this: migrate() creates them from schema.py and stamps them at head, so later
revisions only ever meet stores made before them. It stays for `alembic upgrade` on an empty
database from the command line, where the revisions after it are written to be idempotent.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from feedback_assets.store import schema

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema.metadata.create_all(op.get_bind())


def downgrade() -> None:
    schema.metadata.drop_all(op.get_bind())
