"""The live window: live_drift judges the last minutes of traffic before any partition is
materialized, and the drift sensor only reads the verdict it stored (no report inside a tick)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets.definitions import defs
from feedback_assets.demo.traffic import generate_stream
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.conftest import register_deployments, resources_for

MINUTES = 30


def _store_stream(store: FeedbackStore, n: int, seed: int, start: datetime, **shift: float) -> None:
    events, signals = generate_stream(n, seed=seed, deployment_id="live-bot", start=start, **shift)
    # One event a second from `start`: squeeze them into the window we want.
    span = (events["timestamp"] - events["timestamp"].min()) / 4
    events["timestamp"] = start + span
    store.insert_events(events)
    store.insert_signals(signals.assign(timestamp=start))


def _refresh(instance: dg.DagsterInstance, resources: dict, as_of: datetime) -> None:
    job = defs().resolve_job_def("live_drift_job")
    result = job.execute_in_process(
        partition_key="live-bot",
        instance=instance,
        resources=resources,
        run_config={"ops": {"live_drift": {"config": {"as_of": as_of.isoformat()}}}},
    )
    assert result.success


def _tick(instance: dg.DagsterInstance, resources: dict):
    sensor = defs().resolve_sensor_def("drift_retraining_sensor")
    with dg.build_sensor_context(
        instance=instance, resources=resources, sensor_name=sensor.name
    ) as ctx:
        return sensor(ctx)


@pytest.mark.parametrize("shift", [{}, {"response_length_factor": 1.6, "refusal_rate_delta": 0.2}])
def test_live_drift_asset_then_drift_sensor(
    shift: dict, loop_env: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    store = FeedbackStore(url)
    # A bucket boundary just behind us: both refreshes below fall in the bucket it starts.
    bucket = timedelta(minutes=MINUTES)
    boundary = datetime.fromtimestamp(
        (datetime.now(UTC).timestamp() // bucket.total_seconds()) * bucket.total_seconds(), UTC
    )
    _store_stream(store, 800, seed=1, start=boundary - timedelta(days=5))  # the reference
    _store_stream(store, 400, seed=2, start=boundary - timedelta(minutes=25), **shift)
    # Settings reach the asset and the sensor from the environment, through the resources.
    monkeypatch.setenv("FEEDBACK_LIVE_WINDOW_MINUTES", str(MINUTES))
    monkeypatch.setenv("FEEDBACK_DRIFT_CONSECUTIVE_WINDOWS", "1")
    resources = resources_for(url, loop_env)
    assert resources["trigger_settings"].live_window_minutes == MINUTES
    register_deployments(instance, ["live-bot"])

    # Nothing refreshed yet: the tick computes no verdict of its own.
    before = _tick(instance, resources)
    assert isinstance(before, dg.SkipReason) and "no drift windows" in before.skip_message
    assert store.read_table("drift_history").empty

    _refresh(instance, resources, boundary + timedelta(minutes=1))
    [live] = store.read_table("drift_history", source="live").to_dict("records")
    assert live["id"].startswith("live:live-bot:") and live["current_size"] == 400
    [window] = store.read_table("live_windows").to_dict("records")
    assert window["id"] == live["id"] == window["drift_history_id"]
    assert window["events"] == window["quality_n"] == 400 and 0 < window["quality_mean"] <= 1

    out = _tick(instance, resources)
    if shift:
        assert live["drifted"]
        [request] = out.run_requests
        assert request.tags["feedback/deployment"] == "live-bot"
        assert "drift_threshold" in request.tags["feedback/triggers"]
        assert request.run_key.endswith(f":{live['id']}")
    else:
        assert not live["drifted"]
        assert isinstance(out, dg.SkipReason) and "live:live-bot:" in out.skip_message

    # A second refresh in the same bucket updates that window; it does not add one.
    _refresh(instance, resources, boundary + timedelta(minutes=4))
    [again] = store.read_table("drift_history", source="live").to_dict("records")
    assert again["id"] == live["id"] and again["created_us"] >= live["created_us"]
    assert len(store.read_table("live_windows")) == 1
    # The quality trigger reads the live aggregate too (400 live scores, no stored ones).
    values = _quality_values(instance, resources, store)
    assert values["live_n"] == values["n"] == 400 and values["live_window"] == live["id"]


def _quality_values(instance: dg.DagsterInstance, resources: dict, store: FeedbackStore) -> dict:
    sensor = defs().resolve_sensor_def("quality_drop_retraining_sensor")
    with dg.build_sensor_context(
        instance=instance, resources=resources, sensor_name=sensor.name
    ) as ctx:
        sensor(ctx)
    rows = store.read_table(
        "trigger_history", source=sensor.name, trigger_type="quality_drop"
    ).to_dict("records")
    return json.loads(rows[-1]["trigger_values"])


def test_live_drift_schedule_refreshes_deployments_with_recent_traffic(
    loop_env: Path, instance: dg.DagsterInstance
) -> None:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    store = FeedbackStore(url)
    now = datetime.now(UTC)
    _store_stream(store, 50, seed=3, start=now - timedelta(minutes=10))
    register_deployments(instance, ["live-bot", "quiet-bot"])
    schedule = defs().resolve_schedule_def("live_drift_schedule")
    with dg.build_schedule_context(
        instance=instance, resources=resources_for(url, loop_env), scheduled_execution_time=now
    ) as ctx:
        [request] = schedule(ctx)
    assert request.partition_key == "live-bot"  # quiet-bot has no traffic in its window
    as_of = request.run_config["ops"]["live_drift"]["config"]["as_of"]
    assert datetime.fromisoformat(as_of) == now.replace(microsecond=0)
    with dg.build_schedule_context(
        instance=instance,
        resources=resources_for(url, loop_env),
        scheduled_execution_time=now + timedelta(hours=3),
    ) as ctx:
        later = schedule(ctx)
    assert isinstance(later, dg.SkipReason) and "no traffic since" in later.skip_message
