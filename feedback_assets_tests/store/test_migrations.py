"""Alembic migrations on both backends: a new store is created at head, a store made before
Alembic is upgraded with its rows, concurrent first starts create the schema once, and the
tables in schema.py are exactly what a migrated store holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from feedback_assets.store import FeedbackStore, schema
from feedback_assets.store.migrations import head_version, revisions

ROOT = Path(__file__).resolve().parents[2]


def _events(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ids,
            "deployment_id": "dep-a",
            "prompt": [f"prompt {i}" for i in ids],
            "response": [f"response {i}" for i in ids],
            "metadata": "{}",
            "timestamp": pd.Timestamp("2026-11-01", tz="UTC")
            + pd.to_timedelta(range(len(ids)), unit="h"),
        }
    )


def _time_index_method(store: FeedbackStore) -> str:
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            sql = (
                "SELECT 'btree' FROM sqlite_master WHERE type = 'index' AND name = 'ix_events_time'"
            )
        else:
            sql = (
                "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                "WHERE c.relname = 'ix_events_time'"
            )
        return str(conn.execute(sa.text(sql)).scalar_one())


def _tables(store: FeedbackStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def _schema_drift(store: FeedbackStore) -> list:
    """What Alembic's autogenerate would change to make the store match schema.py."""
    with store.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), schema.metadata)


def _make_pre_alembic(store: FeedbackStore, version: int) -> None:
    """Put a store back in the shape the hand-made migrations left at `version` (1 or 2)."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(
            sa.text(
                "CREATE TABLE schema_version "
                "(version INTEGER PRIMARY KEY, applied_us BIGINT NOT NULL)"
            )
        )
        for v in range(1, version + 1):
            conn.execute(sa.text(f"INSERT INTO schema_version VALUES ({v}, 0)"))
        if version == 1:  # version 1 had a B-tree time index on PostgreSQL too
            conn.execute(sa.text("DROP INDEX ix_events_time"))
            conn.execute(sa.text("CREATE INDEX ix_events_time ON events (timestamp_us)"))


def test_a_new_store_is_created_at_head(store: FeedbackStore) -> None:
    assert revisions() == (
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
    )
    assert store.schema_version() == head_version() == 11
    assert "schema_version" not in _tables(store)
    assert _time_index_method(store) == ("btree" if store.dialect == "sqlite" else "brin")
    assert _schema_drift(store) == []


@pytest.mark.parametrize("legacy", [1, 2])
def test_a_pre_alembic_store_is_upgraded_without_losing_rows(
    store: FeedbackStore, legacy: int
) -> None:
    store.insert_events(_events(["e1", "e2"]))
    _make_pre_alembic(store, legacy)
    assert store.schema_version() == legacy
    old_index = "btree" if legacy == 1 or store.dialect == "sqlite" else "brin"
    assert _time_index_method(store) == old_index

    reopened = FeedbackStore(store.url)  # a restart on the new code migrates on open
    try:
        assert reopened.schema_version() == head_version()
        assert reopened.migrate() == head_version()  # and again is a no-op
    finally:
        reopened.dispose()
    # PostgreSQL reads time ranges through a BRIN index, far cheaper to keep up on insert.
    assert _time_index_method(store) == ("btree" if store.dialect == "sqlite" else "brin")
    assert "schema_version" not in _tables(store) and "alembic_version" in _tables(store)
    assert store.counts()["events"] == 2
    assert list(store.read_events(start_us=0, end_us=2**62)["event_id"]) == ["e1", "e2"]
    assert _schema_drift(store) == []


def test_a_store_before_roles_gets_legacy_roles_and_the_split_table(store: FeedbackStore) -> None:
    """0006: curated rows made without an approval bar become "legacy" (never exported as sft)."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE prompt_splits"))
        conn.execute(sa.text("ALTER TABLE curated_examples DROP COLUMN role"))
        conn.execute(
            sa.text(
                "INSERT INTO curated_examples (partition_key, deployment_id, event_id, prompt, "
                "response, curation_source, curation_score) "
                "VALUES ('2026-11-01', 'dep-a', 'e1', 'p', 'r', 'diverse', 0.5)"
            )
        )
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0005'"))
    assert store.schema_version() == 5
    reopened = FeedbackStore(store.url)
    try:
        assert reopened.schema_version() == head_version()
    finally:
        reopened.dispose()
    rows = store.read_table("curated_examples")
    assert rows["role"].tolist() == ["legacy"]
    assert "prompt_splits" in _tables(store)
    assert _schema_drift(store) == []


def test_model_versions_before_the_gate_read_as_promoted(store: FeedbackStore) -> None:
    """0007: versions registered before the evaluation gate were made current, so "promoted";
    the key becomes (deployment_id, model_version_id), so deployments may share a base model."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE model_versions"))
        conn.execute(
            sa.text(
                "CREATE TABLE model_versions (model_version_id VARCHAR(256) PRIMARY KEY, "
                "deployment_id VARCHAR(256) NOT NULL, parent_model_version_id VARCHAR(256), "
                "retraining_run_id VARCHAR(64), registered_us BIGINT NOT NULL)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO model_versions (model_version_id, deployment_id, registered_us) "
                "VALUES ('dep-a-ft-1', 'dep-a', 1)"
            )
        )
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    reopened = FeedbackStore(store.url)
    try:
        assert reopened.schema_version() == head_version()
    finally:
        reopened.dispose()
    rows = store.read_table("model_versions")
    assert rows["status"].tolist() == ["promoted"]
    assert rows["evaluation"].isna().all()
    pk = sa.inspect(store.engine).get_pk_constraint("model_versions")["constrained_columns"]
    assert pk == ["deployment_id", "model_version_id"]
    assert _schema_drift(store) == []


def test_a_store_before_erasure_gets_the_erasure_log(store: FeedbackStore) -> None:
    """0009: the erasure_log table, made once (a second upgrade is a no-op)."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE erasure_log"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    assert "erasure_log" not in _tables(store)
    reopened = FeedbackStore(store.url)
    try:
        assert reopened.schema_version() == head_version()
        assert reopened.migrate() == head_version()
    finally:
        reopened.dispose()
    assert "erasure_log" in _tables(store)
    assert _schema_drift(store) == []


# Each worker imports the store, says it is ready, then opens the store when told to go, so the
# four first starts hit the empty database together.
WORKER = """
import pathlib, sys, time
from feedback_assets.store import FeedbackStore
url, ready, go = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.005)
store = FeedbackStore(url)
print(store.schema_version())
"""


@pytest.mark.slow
def test_concurrent_first_starts_create_the_schema_once(store_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(4)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url, str(flag), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    try:
        deadline = time.time() + 120
        while not all(flag.exists() for flag in ready) and time.time() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    assert [p.returncode for p in procs] == [0] * 4, [err[-3000:] for _, err in outs]
    assert [out.strip() for out, _ in outs] == [str(head_version())] * 4
    store = FeedbackStore(store_url)
    try:
        with store.engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [revisions()[-1]]
        assert _schema_drift(store) == []
    finally:
        store.dispose()
