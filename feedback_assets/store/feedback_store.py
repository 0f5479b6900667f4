"""The feedback store: one interface over SQLite (embedded default) and PostgreSQL.

Bulk paths go through the DBAPI connection in one transaction: SQLite executemany, PostgreSQL
COPY (CSV written by polars); when keys already exist, COPY into a temp table then
INSERT ... ON CONFLICT DO NOTHING. Schema
and reads go through SQLAlchemy Core and pandas.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import migrations, schema
from feedback_assets.store.bulk import (
    insert_rows,
    pg_copy_insert,
    records_frame,
    refresh_statistics,
    sqlite_insert,
)
from feedback_assets.store.engines import CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_MS, make_engine
from feedback_assets.store.frames import (
    InsertFrame,
    columns_for_insert,
    from_db_frame,
    rows_for_insert,
)

INSERT_CHUNK = 50_000  # rows per statement: bounds the CSV buffer and driver memory


@dataclass(frozen=True)
class InsertResult:
    inserted: int
    duplicates: int


def now_us() -> int:
    return time.time_ns() // 1000


class FeedbackStore:
    """System of record for events, signals, dead letters and every derived table."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    ) -> None:
        self.url = url
        self.engine = make_engine(url, connect_timeout_s, statement_timeout_ms)
        self.dialect = self.engine.dialect.name
        self.migrate()

    def __repr__(self) -> str:  # never print credentials
        return f"FeedbackStore({self.engine.url.render_as_string(hide_password=True)})"

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Create the schema if missing and apply pending Alembic revisions; return the version.

        Safe under concurrent first starts (see store/migrations)."""
        return migrations.upgrade(self.engine)

    def schema_version(self) -> int:
        """The store's version: the position of its Alembic revision (0 = empty)."""
        with self.engine.connect() as conn:
            return migrations.current_version(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- bulk, idempotent inserts ---------------------------------------------------------------
    def insert_events(self, frame: InsertFrame) -> InsertResult:
        return self._insert_ignore(schema.events, frame)

    def insert_signals(self, frame: InsertFrame) -> InsertResult:
        return self._insert_ignore(schema.signals, frame)

    def insert_dead_letters(self, frame: InsertFrame) -> InsertResult:
        return self._insert_ignore(schema.dead_letters, frame)

    def _insert_ignore(self, table: sa.Table, frame: InsertFrame) -> InsertResult:
        """Bulk insert (pandas, polars or Arrow); rows whose key exists are skipped and counted."""
        if len(frame) == 0:
            return InsertResult(0, 0)
        data = columns_for_insert(table, frame, ingested_us=now_us())
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            inserted = 0
            for start in range(0, data.height, INSERT_CHUNK):
                part = data.slice(start, INSERT_CHUNK)
                if self.dialect == "sqlite":
                    inserted += sqlite_insert(cur, table, part)
                else:
                    inserted += pg_copy_insert(cur, table, part)
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()
        return InsertResult(inserted=inserted, duplicates=data.height - inserted)

    # -- raw reads ----------------------------------------------------------------------------
    def read_events(
        self,
        deployment_id: str | None = None,
        start_us: int | None = None,
        end_us: int | None = None,
        latest: int | None = None,
    ) -> pd.DataFrame:
        """Events in [start_us, end_us), optionally only the `latest` N, oldest first."""
        t = schema.events
        query = sa.select(t).where(*self._window(t.c.timestamp_us, start_us, end_us))
        if deployment_id is not None:
            query = query.where(t.c.deployment_id == deployment_id)
        if latest is not None:
            query = query.order_by(t.c.timestamp_us.desc(), t.c.event_id.desc()).limit(latest)
            return self._query(t, query).iloc[::-1].reset_index(drop=True)
        return self._query(t, query.order_by(t.c.timestamp_us, t.c.event_id))

    def read_signals(
        self,
        start_us: int | None = None,
        end_us: int | None = None,
        event_ids: Sequence[str] | None = None,
        deployment_id: str | None = None,
    ) -> pd.DataFrame:
        """Signals (with their event's deployment_id joined; NULL while the event is unseen)."""
        s, e = schema.signals, schema.events
        query = (
            sa.select(s, e.c.deployment_id)
            .select_from(s.outerjoin(e, s.c.event_id == e.c.event_id))
            .where(*self._window(s.c.timestamp_us, start_us, end_us))
        )
        if deployment_id is not None:
            query = query.where(e.c.deployment_id == deployment_id)
        if event_ids is not None:
            frames = [
                self._query(s, query.where(s.c.event_id.in_(list(chunk))))
                for chunk in _chunks(event_ids, 5000)
            ]
            frames = [f for f in frames if not f.empty]
            return (
                pd.concat(frames, ignore_index=True)
                if frames
                else self._query(s, query.where(sa.false()))
            )
        return self._query(s, query.order_by(s.c.timestamp_us, s.c.signal_id))

    def read_dead_letters(
        self, start_us: int | None = None, end_us: int | None = None
    ) -> pd.DataFrame:
        t = schema.dead_letters
        query = sa.select(t).where(*self._window(t.c.received_us, start_us, end_us))
        return self._query(t, query.order_by(t.c.received_us))

    def deployments(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schema.events.c.deployment_id).distinct()).scalars()
            return sorted(rows)

    def time_range(self, deployment_id: str | None = None) -> tuple[int | None, int | None]:
        """Earliest and latest event time (epoch us), None when there are no events."""
        t = schema.events
        query = sa.select(sa.func.min(t.c.timestamp_us), sa.func.max(t.c.timestamp_us))
        if deployment_id is not None:
            query = query.where(t.c.deployment_id == deployment_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        return (None if row[0] is None else int(row[0]), None if row[1] is None else int(row[1]))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
                for name, table in (
                    ("events", schema.events),
                    ("signals", schema.signals),
                    ("dead_letters", schema.dead_letters),
                )
            }

    def count(self, table_name: str, **equals: Any) -> int:
        t = schema.metadata.tables[table_name]
        query = sa.select(sa.func.count()).select_from(t)
        query = query.where(*(t.c[k] == v for k, v in equals.items()))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- derived tables -------------------------------------------------------------------------
    def replace_partition(
        self,
        table_name: str,
        partition_key: str,
        frame: pd.DataFrame,
        deployment_ids: Iterable[str] | None = None,
    ) -> int:
        """Replace a partition's rows (optionally only some deployments') in one transaction.

        Exclusive: a concurrent replace of the same table, day and deployment waits for this one
        to commit (PostgreSQL advisory lock; SQLite's single writer), so exactly one copy remains.
        """
        t = schema.metadata.tables[table_name]
        frame = frame.assign(partition_key=partition_key)
        columns, rows = rows_for_insert(t, frame)
        only = None if deployment_ids is None else sorted(set(deployment_ids))
        delete = t.delete().where(t.c.partition_key == partition_key)
        if only is not None:
            delete = delete.where(t.c.deployment_id.in_(only))
        with self.engine.connect() as conn:
            _lock_partition(conn, table_name, partition_key, only)
            conn.execute(delete)
            insert_rows(conn, t, columns, rows)
            conn.commit()
            refresh_statistics(conn, [t], len(rows))
        return len(rows)

    def append(self, table_name: str, records: pd.DataFrame | Sequence[dict[str, Any]]) -> int:
        t = schema.metadata.tables[table_name]
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        if frame.empty:
            return 0
        columns, rows = rows_for_insert(t, frame)
        with self.engine.begin() as conn:
            conn.execute(t.insert(), [dict(zip(columns, r, strict=True)) for r in rows])
        return len(rows)

    def update(self, table_name: str, key: dict[str, Any], values: dict[str, Any]) -> int:
        t = schema.metadata.tables[table_name]
        stmt = t.update().where(*(t.c[k] == v for k, v in key.items())).values(**values)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def read_table(
        self,
        table_name: str,
        *,
        partition_key: str | Sequence[str] | None = None,
        deployment_id: str | None = None,
        start_us: int | None = None,
        end_us: int | None = None,
        order_by: Sequence[str] = (),
        descending: bool = False,
        limit: int | None = None,
        **equals: Any,
    ) -> pd.DataFrame:
        t = schema.metadata.tables[table_name]
        query = sa.select(t)
        if partition_key is not None:
            keys = [partition_key] if isinstance(partition_key, str) else list(partition_key)
            query = query.where(t.c.partition_key.in_(keys))
        if deployment_id is not None:
            query = query.where(t.c.deployment_id == deployment_id)
        query = query.where(*(t.c[k] == v for k, v in equals.items()))
        if start_us is not None or end_us is not None:
            query = query.where(*self._window(t.c.timestamp_us, start_us, end_us))
        if order_by:
            cols = [t.c[c].desc() if descending else t.c[c] for c in order_by]
            query = query.order_by(*cols)
        if limit is not None:
            query = query.limit(limit)
        return self._query(t, query)

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _window(col: sa.ColumnElement[Any], start_us: int | None, end_us: int | None) -> list[Any]:
        clauses = []
        if start_us is not None:
            clauses.append(col >= start_us)
        if end_us is not None:
            clauses.append(col < end_us)
        return clauses

    def _query(self, table: sa.Table, query: sa.Select[Any]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(query)
            frame = records_frame(result.fetchall(), list(result.keys()))
        return from_db_frame(table, frame)


def _lock_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key for these names."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_partition(
    conn: sa.Connection, table: str, partition_key: str, deployments: list[str] | None
) -> None:
    """Begin the replace's transaction holding its partition lock(s).

    PostgreSQL: a whole-day replace takes the day's lock exclusively; a per-deployment replace
    takes it shared plus each deployment's lock (sorted, so two replaces never deadlock).
    The locks are transaction-scoped: commit or rollback releases them.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before reading or deleting
        return
    day = _lock_key(table, partition_key)
    lock = "SELECT pg_advisory_xact_lock(:key)"
    if deployments is None:
        conn.execute(sa.text(lock), {"key": day})
        return
    conn.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": day})
    for deployment in deployments:
        conn.execute(sa.text(lock), {"key": _lock_key(table, partition_key, deployment)})


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
