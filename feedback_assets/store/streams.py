"""Partitions in bounded chunks: streamed reads and a chunked replace in one transaction.

Reads use the driver's streaming (a server-side cursor on PostgreSQL, SQLite's lazy cursor), so a
deployment-day is never a single frame. The writer replaces partitions the way
FeedbackStore.replace_partition does (same locks, one transaction, all or nothing) but takes the
rows chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.bulk import insert_rows, records_frame, refresh_statistics
from feedback_assets.store.feedback_store import FeedbackStore, _lock_partition
from feedback_assets.store.frames import from_db_frame, rows_for_insert

CHUNK_ROWS = 20_000  # rows per chunk: ~25 MB of 1 KB events, a few times that in pandas


class PartitionWriter(Protocol):
    def __call__(self, table_name: str, frame: pd.DataFrame) -> int: ...


def stream(
    store: FeedbackStore, table: sa.Table, query: sa.Select[Any], chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The query's rows as frames of at most `chunk_rows` (none when there are no rows)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows: must be >= 1, got {chunk_rows}")
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=chunk_rows).execute(query)
        columns = list(result.keys())
        for rows in result.partitions(chunk_rows):
            yield from_db_frame(table, records_frame(rows, columns))


def stream_events(
    store: FeedbackStore,
    deployment_id: str,
    start_us: int,
    end_us: int,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """A deployment's events in [start_us, end_us), in read_events' order, chunk by chunk."""
    t = schema.events
    query = (
        sa.select(t)
        .where(t.c.deployment_id == deployment_id, t.c.timestamp_us >= start_us)
        .where(t.c.timestamp_us < end_us)
        .order_by(t.c.timestamp_us, t.c.event_id)
    )
    return stream(store, t, query, chunk_rows)


def stream_partition(
    store: FeedbackStore,
    table_name: str,
    partition_key: str,
    deployment_id: str,
    columns: Sequence[str] | None = None,
    order_by: Sequence[str] = ("timestamp_us", "event_id"),
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """One deployment's rows of a derived table's partition (only `columns` when given)."""
    t = schema.metadata.tables[table_name]
    selected = [t.c[c] for c in columns] if columns else list(t.c)
    query = (
        sa.select(*selected)
        .where(t.c.partition_key == partition_key, t.c.deployment_id == deployment_id)
        .order_by(*(t.c[c] for c in order_by))
    )
    return stream(store, t, query, chunk_rows)


@contextmanager
def partition_writer(
    store: FeedbackStore, table_names: Sequence[str], partition_key: str, deployment_id: str
) -> Iterator[PartitionWriter]:
    """Replace one deployment's rows of each table's partition with what is written, chunk by
    chunk, committed together on exit (rolled back, old rows kept, if the block raises)."""
    tables = [schema.metadata.tables[name] for name in sorted(set(table_names))]
    with store.engine.connect() as conn:
        for i, t in enumerate(tables):
            if i == 0 or conn.dialect.name != "sqlite":  # SQLite: one BEGIN IMMEDIATE locks all
                _lock_partition(conn, t.name, partition_key, [deployment_id])
            conn.execute(
                t.delete().where(
                    t.c.partition_key == partition_key, t.c.deployment_id == deployment_id
                )
            )

        written = 0

        def write(table_name: str, frame: pd.DataFrame) -> int:
            nonlocal written
            t = schema.metadata.tables[table_name]
            if t not in tables:
                raise ValueError(f"table_name: {table_name!r} is not one this writer replaces")
            if frame.empty:
                return 0
            columns, rows = rows_for_insert(t, frame.assign(partition_key=partition_key))
            insert_rows(conn, t, columns, rows)
            written += len(rows)
            return len(rows)

        try:
            yield write
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        refresh_statistics(conn, tables, written)


def read_columns(
    store: FeedbackStore, table: sa.Table, query: sa.Select[Any], chunk_rows: int = CHUNK_ROWS
) -> pd.DataFrame:
    """The query's rows as one frame (its own columns, also when empty), fetched in chunks: the
    Python tuples of a whole result cost several times its columns (a day's preference window
    of 320k answers: +900 MB)."""
    parts = list(stream(store, table, query, chunk_rows))
    if not parts:
        return from_db_frame(table, records_frame([], list(query.selected_columns.keys())))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
