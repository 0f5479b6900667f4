"""Sensors judge the last minutes of traffic, before any partition is materialized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets.definitions import defs
from feedback_assets.demo.traffic import generate_stream
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.conftest import resources_for


def _store_stream(store: FeedbackStore, n: int, seed: int, start: datetime, **shift: float) -> None:
    events, signals = generate_stream(n, seed=seed, deployment_id="live-bot", start=start, **shift)
    # One event a second from `start`: squeeze them into the window we want.
    span = (events["timestamp"] - events["timestamp"].min()) / 4
    events["timestamp"] = start + span
    store.insert_events(events)
    store.insert_signals(signals.assign(timestamp=start))


@pytest.mark.parametrize("shift", [{}, {"response_length_factor": 1.6, "refusal_rate_delta": 0.2}])
def test_drift_sensor_on_a_live_window(
    shift: dict, loop_env: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    store = FeedbackStore(url)
    now = datetime.now(UTC)
    _store_stream(store, 800, seed=1, start=now - timedelta(days=5))  # the reference: first days
    _store_stream(store, 400, seed=2, start=now - timedelta(minutes=25), **shift)
    # Settings reach the sensor from the environment, through settings.py and the resources.
    monkeypatch.setenv("FEEDBACK_LIVE_WINDOW_MINUTES", "30")
    monkeypatch.setenv("FEEDBACK_DRIFT_CONSECUTIVE_WINDOWS", "1")
    resources = resources_for(url, loop_env)
    assert resources["trigger_settings"].live_window_minutes == 30
    sensor = defs().resolve_sensor_def("drift_retraining_sensor")
    with dg.build_sensor_context(
        instance=instance, resources=resources, sensor_name=sensor.name
    ) as ctx:
        out = sensor(ctx)
    [live] = store.read_table("drift_history", source="sensor").to_dict("records")
    assert live["id"].startswith("live:live-bot:") and live["current_size"] == 400
    if shift:
        assert live["drifted"]
        [request] = out.run_requests
        assert request.tags["feedback/deployment"] == "live-bot"
        assert "drift_threshold" in request.tags["feedback/triggers"]
    else:
        assert not live["drifted"]
        assert isinstance(out, dg.SkipReason)
    # A second tick in the same bucket updates that window; it does not add one.
    with dg.build_sensor_context(
        instance=instance, resources=resources, sensor_name=sensor.name
    ) as ctx:
        sensor(ctx)
    assert len(store.read_table("drift_history", source="sensor")) == 1
