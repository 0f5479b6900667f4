"""Issue #14: a 7-day x 3-deployment backfill on PostgreSQL, 2 runs at a time, gives exactly the
rows of a sequential backfill of the same data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.events import DagsterEventType

from feedback_assets.defs.jobs import FEEDBACK_LOOP_ASSETS
from feedback_assets.demo.traffic import TrafficConfig
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.backfill_harness import (
    BackfillOutcome,
    open_workspace,
    run_asset_backfill,
    write_instance_home,
)
from feedback_assets_tests.defs.conftest import ingest
from feedback_assets_tests.defs.store_snapshot import export_files, table_rows
from feedback_assets_tests.pg_server import PostgresServer

TRAFFIC = TrafficConfig(seed=11, days=7, end_date=date(2026, 11, 7), events_per_day=36, drift_day=5)
DAYS = [str(TRAFFIC.end_date - timedelta(days=d)) for d in range(TRAFFIC.days - 1, -1, -1)]
DEPLOYMENTS = sorted(TRAFFIC.deployments)
KEYS = [f"{day}|{dep}" for day in DAYS for dep in DEPLOYMENTS]
# The backfill covers feedback_loop_job's assets, as the UI's "materialize" of the job's graph.
LOOP_ASSETS = FEEDBACK_LOOP_ASSETS
# Small enough for the drift tests to run on a few dozen events a day.
SETTINGS = {"FEEDBACK_DRIFT_MIN_SAMPLES": "20", "FEEDBACK_EXPECTED_FORMATS": "json-extractor=json"}


@pytest.fixture
def stores(postgres: PostgresServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two stores holding the same raw traffic, byte for byte (the second is a copy)."""
    urls = {"concurrent": postgres.create_database("bf_concurrent")}
    ingest(urls["concurrent"], tmp_path / "spool", TRAFFIC)
    urls["sequential"] = postgres.clone_database("bf_concurrent", "bf_sequential")
    postgres.create_database("bf_instance")
    yield urls
    for name in ("bf_concurrent", "bf_sequential", "bf_instance"):
        postgres.drop_database(name)


def _concurrent(
    postgres: PostgresServer, url: str, tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[BackfillOutcome, dict[str, set[str]]]:
    """The backfill's outcome, and per run the steps that ran in a worker process of their own."""
    env = {
        "DAGSTER_PG_USERNAME": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_DB": "bf_instance",
        "FEEDBACK_STORE_URL": url,
        "FEEDBACK_DATA_DIR": str(tmp / "data"),
        "FEEDBACK_EXPORT_ROOT": str(tmp / "exports"),
        **SETTINGS,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    home = write_instance_home(tmp / "dagster_home", max_concurrent_runs=2)
    with open_workspace(home) as workspace:
        workspace.instance.add_dynamic_partitions("deployment", DEPLOYMENTS)
        outcome = run_asset_backfill(workspace, LOOP_ASSETS, KEYS)
        workers = {
            r.dagster_run.run_id: {
                str(e.step_key)
                for e in workspace.instance.all_logs(
                    r.dagster_run.run_id, of_type=DagsterEventType.STEP_WORKER_STARTED
                )
            }
            for r in outcome.runs
        }
    return outcome, workers


def _sequential(url: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """feedback_loop_job, one deployment-day after another, days in order."""
    from feedback_assets.definitions import defs
    from feedback_assets.defs.partitions import loop_key
    from feedback_assets.defs.resources import build_resources

    monkeypatch.setenv("FEEDBACK_STORE_URL", url)
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(tmp / "data"))
    monkeypatch.setenv("FEEDBACK_EXPORT_ROOT", str(tmp / "exports"))
    job = defs().resolve_job_def("feedback_loop_job")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("deployment", DEPLOYMENTS)
        for key in KEYS:
            day, deployment = key.split("|")
            result = job.execute_in_process(
                partition_key=loop_key(day, deployment),
                instance=instance,
                resources=build_resources(),
            )
            assert result.success, key


def _overlapping_pairs(outcome: BackfillOutcome) -> int:
    spans = sorted((r.start_time, r.end_time) for r in outcome.runs)
    return sum(
        1 for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1] and a[0] < b[1]
    )


def _days_in_order_per_deployment(outcome: BackfillOutcome) -> bool:
    """Each deployment's runs started in day order, each after the previous one ended."""
    by_deployment: dict[str, list[tuple[float, float, str]]] = {}
    for r in outcome.runs:
        day, deployment = r.dagster_run.tags["dagster/partition"].split("|")
        by_deployment.setdefault(deployment, []).append((r.start_time, r.end_time, day))
    for spans in by_deployment.values():
        spans.sort()
        if [d for *_, d in spans] != sorted(d for *_, d in spans):
            return False
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)):
            return False
    return True


def _max_running(outcome: BackfillOutcome) -> int:
    edges = [(r.start_time, 1) for r in outcome.runs] + [(r.end_time, -1) for r in outcome.runs]
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
@pytest.mark.backfill  # the longest test: run first by `make test` (conftest.py)
def test_concurrent_backfill_equals_sequential(
    postgres: PostgresServer,
    stores: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    t0 = time.perf_counter()
    outcome, workers = _concurrent(postgres, stores["concurrent"], tmp_path / "c", monkeypatch)
    t1 = time.perf_counter()
    _sequential(stores["sequential"], tmp_path / "s", monkeypatch)
    t2 = time.perf_counter()
    print(f"concurrent {t1 - t0:.1f} s, sequential {t2 - t1:.1f} s")

    assert outcome.status.value == "COMPLETED_SUCCESS"
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in outcome.runs) == sorted(KEYS)
    assert all(r.dagster_run.is_success for r in outcome.runs)
    # The runs really overlapped, and never more than the queue's 2 at once.
    assert _overlapping_pairs(outcome) >= 1
    assert _max_running(outcome) == 2
    assert _days_in_order_per_deployment(outcome)
    # The multiprocess executor: every step of every run in a worker process of its own.
    assert all(steps == set(LOOP_ASSETS) for steps in workers.values()), workers

    concurrent, sequential = (
        FeedbackStore(stores["concurrent"]),
        FeedbackStore(stores["sequential"]),
    )
    try:
        got = table_rows(concurrent, tmp_path / "c" / "exports")
        want = table_rows(sequential, tmp_path / "s" / "exports")
    finally:
        concurrent.dispose()
        sequential.dispose()
    assert got.keys() == want.keys()
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], obj=name)
    assert len(want["curated_examples"]) and len(want["drift_results"])
    assert export_files(tmp_path / "c" / "exports") == export_files(tmp_path / "s" / "exports")
