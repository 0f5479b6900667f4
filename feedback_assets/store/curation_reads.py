"""The columns curation reads of one deployment-day, and nothing else (SQL pushdown).

deployment_window reads every column (user ids, token counts, the quality checks' details
text...). Curation needs the texts, ids, session and metadata (regenerations), and per event
the quality score, refusal and judge verdicts; the rows stream in bounded chunks instead of one
fetchall of Python tuples. Given the hard-quality bound, only candidates' answers are read: an
event without a signal, a low score, a judge verdict or a regeneration link is never selected,
and answers are most of a day's bytes (410 of 470 MB for a coding assistant's 333k events).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from feedback_assets.domain.curation.curation import UNREAD_RESPONSE
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.store import schema
from feedback_assets.store.exports import minable
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.streams import CHUNK_ROWS, read_columns

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
    return read_columns(store, table, query, chunk_rows)


def curation_window(
    store: FeedbackStore,
    day: str,
    deployment_id: str,
    chunk_rows: int = CHUNK_ROWS,
    max_hard_quality: float | None = None,
) -> Window:
    """One deployment-day's sanitized events, quality and signals: curation's columns only,
    in deployment_window's row order. With `max_hard_quality`, non-candidates' responses are
    UNREAD_RESPONSE (curation refuses to select one)."""
    lazy = max_hard_quality is not None
    events = _read(
        store,
        schema.sanitized_logs,
        tuple(c for c in EVENT_COLUMNS if not (lazy and c == "response")),
        day,
        deployment_id,
        ("timestamp_us", "event_id"),
        chunk_rows,
    )
    if max_hard_quality is not None:
        answers = _candidate_answers(store, day, deployment_id, max_hard_quality, chunk_rows)
        response = answers.reindex(events["event_id"].to_numpy()).fillna(UNREAD_RESPONSE)
        events.insert(EVENT_COLUMNS.index("response"), "response", response.to_numpy())
    quality = _read(
        store, schema.quality_scores, QUALITY_COLUMNS, day, deployment_id, (), chunk_rows
    )
    signals = _read(
        store, schema.sanitized_signals, SIGNAL_COLUMNS, day, deployment_id, (), chunk_rows
    )
    return Window(events, quality, signals)


def _candidate_answers(
    store: FeedbackStore, day: str, deployment_id: str, max_hard_quality: float, chunk_rows: int
) -> pd.Series:
    """response by event_id of the events curation can select or pair: the minable ones
    (signals, low scores, regenerations) and the ones the judge scored."""
    e, q = schema.sanitized_logs, schema.quality_scores
    judged = sa.select(q.c.event_id).where(
        q.c.partition_key == day, q.c.deployment_id == deployment_id, q.c.judge_score.is_not(None)
    )
    query = sa.select(e.c.event_id, e.c.response).where(
        e.c.partition_key == day,
        e.c.deployment_id == deployment_id,
        sa.or_(minable(day, deployment_id, max_hard_quality), e.c.event_id.in_(judged)),
    )
    read = read_columns(store, e, query, chunk_rows)
    return pd.Series(read["response"].to_numpy(), index=read["event_id"].to_numpy())
