"""Partition replaces are exclusive: concurrent replaces of one deployment-day leave exactly one
copy (two real processes on PostgreSQL and SQLite), the row key is unique, and a store migrated
from before the key loses its duplicate rows and keeps one of each."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from feedback_assets.store import FeedbackStore
from feedback_assets.store.migrations import alembic_config, head_version

DAY = "2026-11-01"
ROWS = 300
ROUNDS = 12


def _frame(n: int, tag: str, deployment: str = "dep-a") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "deployment_id": deployment,
            "event_id": [f"e{i}" for i in range(n)],
            "prompt": "p",
            "response": [f"{tag} {i}" for i in range(n)],
            "curation_source": "high_quality",
            "curation_score": 0.5,
            "role": "sft",
        }
    )


def _insert_as_of_0003(store: FeedbackStore, table: str, frame: pd.DataFrame) -> None:
    """Rows into the table as it was at revision 0003 (later revisions added columns)."""
    with store.engine.begin() as conn:
        t = sa.Table(table, sa.MetaData(), autoload_with=conn)
        rows = frame[[c for c in frame.columns if c in t.c]].to_dict("records")
        conn.execute(t.insert(), rows)


def _replacer(url: str, tag: str, barrier: Any, errors: Any) -> None:
    """Each round: wait for the others, replace the partition, wait for the count."""
    store = FeedbackStore(url)
    try:
        for _ in range(ROUNDS):
            barrier.wait(timeout=120)
            try:
                store.replace_partition("curated_examples", DAY, _frame(ROWS, tag), ["dep-a"])
            except Exception as exc:  # reported to the parent; the round still completes
                errors.put(f"{tag}: {type(exc).__name__}: {exc}"[:500])
            barrier.wait(timeout=120)
    finally:
        store.dispose()


def test_concurrent_replaces_of_one_partition_leave_one_copy(store_url: str) -> None:
    store = FeedbackStore(store_url)  # created (migrated) before the workers start
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    errors = ctx.Queue()
    workers = [ctx.Process(target=_replacer, args=(store_url, t, barrier, errors)) for t in "ab"]
    for w in workers:
        w.start()
    counts, tags = [], set()
    try:
        for _ in range(ROUNDS):
            barrier.wait(timeout=120)  # both replace now
            barrier.wait(timeout=120)  # both done
            rows = store.read_table("curated_examples", partition_key=DAY, deployment_id="dep-a")
            counts.append(len(rows))
            # One writer's rows, whole: never a mix of the two replaces.
            tags.add(frozenset(r.split()[0] for r in rows["response"]))
    finally:
        for w in workers:
            w.join(timeout=120)
        store.dispose()
    reported = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert reported == []
    assert [w.exitcode for w in workers] == [0, 0]
    assert counts == [ROWS] * ROUNDS
    assert all(len(t) == 1 for t in tags), tags


def test_a_row_key_cannot_be_stored_twice(store: FeedbackStore) -> None:
    store.replace_partition("curated_examples", DAY, _frame(3, "x"), ["dep-a"])
    with pytest.raises(sa.exc.IntegrityError):
        store.append("curated_examples", _frame(1, "y").assign(partition_key=DAY))
    # Other deployments and days have their own keys.
    store.replace_partition("curated_examples", DAY, _frame(3, "x", "dep-b"), ["dep-b"])
    store.replace_partition("curated_examples", "2026-11-02", _frame(3, "x"), ["dep-a"])
    assert store.count("curated_examples") == 9


def test_migration_removes_duplicate_rows_and_adds_the_key(store: FeedbackStore) -> None:
    with store.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0003")
        conn.commit()
    doubled = pd.concat([_frame(5, "x"), _frame(5, "x"), _frame(2, "x")], ignore_index=True)
    _insert_as_of_0003(store, "curated_examples", doubled.assign(partition_key=DAY))
    _insert_as_of_0003(
        store,
        "quality_scores",
        pd.DataFrame(
            {
                "partition_key": DAY,
                "deployment_id": "dep-a",
                "event_id": ["e1", "e1", "e2"],
                "timestamp_us": 1,
                "score": 0.5,
                "hard_fail": False,
            }
        ),
    )
    assert store.count("curated_examples") == 12
    assert store.migrate() == head_version()
    kept = store.read_table("curated_examples", partition_key=DAY, order_by=["event_id"])
    assert kept["event_id"].tolist() == [f"e{i}" for i in range(5)]
    assert store.count("quality_scores") == 2
    with pytest.raises(sa.exc.IntegrityError):
        store.append("curated_examples", _frame(1, "y").assign(partition_key=DAY))


def test_a_large_replace_refreshes_postgresqls_statistics(
    store: FeedbackStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a replace of ANALYZE_ROWS rows or more the planner knows the table's size (it took
    a fresh day for a few rows and planned curation's candidate query as nested loops)."""
    import feedback_assets.store.bulk as bulk

    monkeypatch.setattr(bulk, "ANALYZE_ROWS", 200)
    store.replace_partition("curated_examples", DAY, _frame(150, "small"), ["dep-a"])
    if store.dialect != "postgresql":  # SQLite plans from its indexes: nothing to refresh
        assert store.replace_partition("curated_examples", DAY, _frame(250, "x"), ["dep-a"])
        return
    query = "SELECT reltuples FROM pg_class WHERE relname = 'curated_examples'"
    with store.engine.connect() as conn:
        before = conn.exec_driver_sql(query).scalar()
    assert before is not None and before < 150  # 150 rows: below the bound, not analyzed
    store.replace_partition("curated_examples", DAY, _frame(250, "big"), ["dep-a"])
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql(query).scalar() == 250
