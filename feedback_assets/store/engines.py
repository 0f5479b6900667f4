"""Engines for the feedback store: SQLite pragmas, PostgreSQL timeouts, fork safety."""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# A PostgreSQL that does not answer must not hang a caller (the SDK's delivery thread, a run):
# connecting gives up after CONNECT_TIMEOUT_S, a statement is cancelled by the server after
# STATEMENT_TIMEOUT_MS, and TCP keepalives find a peer that vanished.
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 600_000
SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another's lock
_PG_CONNECT_ARGS = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
# Every engine this process made: a forked child must not use its parent's connections.
_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _forget_parent_connections() -> None:
    """In a forked child: drop the inherited pools without closing the parent's sockets
    (SQLAlchemy's recipe for multiprocessing); the child opens its own on first use."""
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection) -> None:
    """Connect-time pragmas. The busy timeout comes first. Switching a brand-new file to WAL can
    still answer SQLITE_BUSY without consulting the busy handler (another process is creating
    the same file), so the whole block is retried until the busy timeout's deadline."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # 16 KB pages (a new file only; an existing one keeps its size): a commit writes a
            # quarter of the WAL frames, 46k -> 68k events/s delivered in 1000-event commits.
            cur.execute("PRAGMA page_size=16384")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Bulk ingest: a 64 MB page cache and a WAL checkpoint every ~64 MB instead of every
            # 4 MB (measured 42k -> 52k events/s delivered; readers are unaffected).
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA wal_autocheckpoint=4096")
            cur.close()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def make_engine(
    url: str,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> sa.Engine:
    engine = _new_engine(url, connect_timeout_s, statement_timeout_ms)
    _ENGINES.add(engine)
    return engine


def _new_engine(url: str, connect_timeout_s: float, statement_timeout_ms: int) -> sa.Engine:
    if url.startswith("postgresql://"):
        # SQLAlchemy 2.1 maps postgresql:// to psycopg v3; we ship psycopg2.
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_conn)

        return engine
    if url.startswith("postgresql+psycopg2://"):
        connect_args = {
            **_PG_CONNECT_ARGS,
            "connect_timeout": max(1, int(connect_timeout_s)),
            "options": f"-c statement_timeout={int(statement_timeout_ms)}",
        }
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    raise ValueError(
        f"FEEDBACK_STORE_URL: unsupported scheme in {url.split('://')[0]!r} "
        "(use sqlite:///path or postgresql://...)"
    )
