"""retention_job and retention_schedule through Dagster, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets.definitions import defs
from feedback_assets.resources.loop_settings import RetentionSettings
from feedback_assets.services.retention import retention_cutoff
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.conftest import DAYS, ingest, resources_for, run_loop_day

AS_OF = "2026-11-04T12:00:00+00:00"
CUTOFF_US = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1_000_000)  # 2 whole days back


def _older(store: FeedbackStore, table: str, column: str) -> int:
    frame = store.read_table(table)
    return int((frame[column] < CUTOFF_US).sum())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_retention_purges_raw_rows_and_keeps_derived_ones(
    backend: str, loop_env: Path, instance: dg.DagsterInstance, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    ingest(url, loop_env / "data")
    resources = resources_for(url, loop_env)
    assert all(r.success for r in run_loop_day(url, loop_env, instance, DAYS[0]).values())
    store = FeedbackStore(url)
    old_events, old_signals = (
        _older(store, "events", "timestamp_us"),
        _older(store, "signals", "timestamp_us"),
    )
    events, derived = store.counts()["events"], len(store.read_table("sanitized_logs"))
    assert old_events > 0 and old_signals > 0 and derived > 0
    by_deployment = store.read_table("events")
    by_deployment = by_deployment[by_deployment["timestamp_us"] < CUTOFF_US]
    expected = by_deployment["deployment_id"].value_counts().sort_index().to_dict()

    run = (
        defs()
        .resolve_job_def("retention_job")
        .execute_in_process(
            run_config={"ops": {"purge_raw_rows": {"config": {"as_of": AS_OF}}}},
            instance=instance,
            resources={**resources, "retention_settings": RetentionSettings(days=2)},
        )
    )

    assert run.success
    [output] = [e for e in run.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    meta = output.event_specific_data.metadata
    assert meta["events_purged"].value == old_events
    assert meta["cutoff"].value == "2026-11-02T00:00:00+00:00"
    shown = {
        r.data["deployment_id"]: r.data["events_purged"] for r in meta["by_deployment"].records
    }
    assert shown == expected
    assert _older(store, "events", "timestamp_us") == 0
    assert _older(store, "signals", "timestamp_us") == 0
    assert store.counts()["events"] == events - old_events > 0  # newer days stay
    # The documented rule: derived rows stay (forget_user still finds them by hashed user id).
    assert len(store.read_table("sanitized_logs")) == derived
    again = (
        defs()
        .resolve_job_def("retention_job")
        .execute_in_process(
            run_config={"ops": {"purge_raw_rows": {"config": {"as_of": AS_OF}}}},
            instance=instance,
            resources={**resources, "retention_settings": RetentionSettings(days=2)},
        )
    )
    assert again.output_for_node("purge_raw_rows")["events"] == 0
    store.dispose()


def test_unset_retention_keeps_everything(loop_env: Path, instance: dg.DagsterInstance) -> None:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    ingest(url, loop_env / "data")
    before = FeedbackStore(url).counts()
    run = (
        defs()
        .resolve_job_def("retention_job")
        .execute_in_process(instance=instance, resources=resources_for(url, loop_env))
    )
    assert run.success and run.output_for_node("purge_raw_rows") == {}
    assert FeedbackStore(url).counts() == before


def test_schedule_requests_a_run_only_when_a_period_is_set() -> None:
    schedule = defs().resolve_schedule_def("retention_schedule")
    at = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        for days, expect_run in ((None, False), (30, True)):
            context = dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=at,
                resources={"retention_settings": RetentionSettings(days=days)},
            )
            result = schedule.evaluate_tick(context)
            if expect_run:
                [req] = result.run_requests
                config = req.run_config["ops"]["purge_raw_rows"]["config"]
                assert config == {"as_of": "2026-12-01T02:30:00+00:00"}
            else:
                assert not result.run_requests and "FEEDBACK_RETENTION_DAYS" in result.skip_message


def test_cutoff_is_whole_days_and_rejects_bad_input() -> None:
    now = datetime(2026, 3, 10, 17, 5, tzinfo=UTC)
    assert retention_cutoff(1, now) == datetime(2026, 3, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="days"):
        retention_cutoff(0, now)
    with pytest.raises(ValueError, match="now"):
        retention_cutoff(3, datetime(2026, 3, 10))


def test_retention_days_setting_names_the_variable() -> None:
    from feedback_assets.settings import ConfigurationError, load_settings

    assert load_settings({"FEEDBACK_RETENTION_DAYS": "30"}).retention == {"days": 30}
    assert load_settings({}).retention == {}
    with pytest.raises(ConfigurationError, match="FEEDBACK_RETENTION_DAYS"):
        load_settings({"FEEDBACK_RETENTION_DAYS": "0"})
