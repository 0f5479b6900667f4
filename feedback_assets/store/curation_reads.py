"""The columns curation reads of one deployment-day, and nothing else (SQL pushdown).

deployment_window reads every column (user ids, token counts, the quality checks' details
text...). Curation needs the texts, ids, session and metadata (regenerations), and per event
the quality score, refusal and judge verdicts; the rows stream in bounded chunks instead of one
fetchall of Python tuples.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.streams import CHUNK_ROWS, stream

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "deployment_id",
    "model_version_id",
    "session_id",
    "prompt",
    "response",
    "metadata",
    "timestamp_us",
)
QUALITY_COLUMNS: tuple[str, ...] = (
    "event_id",
    "deployment_id",
    "score",
    "refusal_passed",
    "judge_score",
)
SIGNAL_COLUMNS: tuple[str, ...] = (
    "signal_id",
    "event_id",
    "deployment_id",
    "signal_type",
    "user_id",
    "edited_response",
    "timestamp_us",
)


def _read(
    store: FeedbackStore,
    table: sa.Table,
    columns: tuple[str, ...],
    day: str,
    deployment_id: str,
    order_by: tuple[str, ...] = (),
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    query = sa.select(*(table.c[c] for c in columns)).where(
        table.c.partition_key == day, table.c.deployment_id == deployment_id
    )
    if order_by:
        query = query.order_by(*(table.c[c] for c in order_by))
    parts = list(stream(store, table, query, chunk_rows))
    if not parts:  # no rows: the same (empty) columns a read_table gives
        return store.read_table(table.name, partition_key=day, deployment_id=deployment_id, limit=0)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def curation_window(
    store: FeedbackStore, day: str, deployment_id: str, chunk_rows: int = CHUNK_ROWS
) -> Window:
    """One deployment-day's sanitized events, quality and signals: curation's columns only,
    in deployment_window's row order."""
    events = _read(
        store,
        schema.sanitized_logs,
        EVENT_COLUMNS,
        day,
        deployment_id,
        ("timestamp_us", "event_id"),
        chunk_rows,
    )
    quality = _read(
        store, schema.quality_scores, QUALITY_COLUMNS, day, deployment_id, (), chunk_rows
    )
    signals = _read(
        store, schema.sanitized_signals, SIGNAL_COLUMNS, day, deployment_id, (), chunk_rows
    )
    return Window(events, quality, signals)
