"""event_features (per-event drift features written by quality_scores) and
drift_reference_cache (a reference's features, texts and embeddings, built once per reference).

Drift reads these instead of re-deriving features from every event's text on each run. Days scored
before this revision have no feature rows: re-materialize their quality_scores partitions (the
drift asset then sees them), or drift reads those days as empty windows.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger


def _features() -> None:
    op.create_table(
        "event_features",
        sa.Column("partition_key", sa.String(32), nullable=False),
        sa.Column("deployment_id", sa.String(256), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("model_version_id", sa.String(256)),
        sa.Column("timestamp_us", _BIG, nullable=False),
        *(sa.Column(c, _BIG) for c in ("prompt_length", "response_length", "token_count")),
        sa.Column("latency_ms", sa.Float),
        sa.Column("metadata", sa.Text),  # sanitized JSON: categorical_metadata_fields read it
        *(sa.Column(c, _BIG) for c in ("prompt_hash", "user_hash", "session_hash")),
        sa.Column("sample_key", _BIG, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("format_kind", sa.String(16)),
        *(
            sa.Column(f"{c}_passed", sa.Boolean)
            for c in ("refusal", "length", "format", "repetition")
        ),
        sa.Column("written_us", _BIG, nullable=False),
    )
    op.create_index(
        "ix_event_features_partition", "event_features", ["partition_key", "deployment_id"]
    )
    op.create_index(
        "ux_event_features_row",
        "event_features",
        ["partition_key", "deployment_id", "event_id"],
        unique=True,
    )
    op.create_index(
        "ix_event_features_deployment_time", "event_features", ["deployment_id", "timestamp_us"]
    )


def upgrade() -> None:
    # Idempotent: a new store is created from schema.py with both tables.
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("event_features"):
        _features()
    if not inspector.has_table("drift_reference_cache"):
        op.create_table(
            "drift_reference_cache",
            sa.Column("reference_id", sa.String(64), primary_key=True),
            sa.Column("fingerprint", sa.String(64), primary_key=True),
            sa.Column("deployment_id", sa.String(256), nullable=False),
            sa.Column("payload", sa.LargeBinary, nullable=False),
            sa.Column("created_us", _BIG, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("drift_reference_cache")
    op.drop_table("event_features")  # its indexes go with it
