"""model_regression: a promoted version whose live traffic is worse is rolled back in launch
mode (through model_rollback_job, Dagster's own sensor and job machinery), and only recorded in
suggest mode; too little traffic gives no verdict."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from feedback_assets.definitions import defs
from feedback_assets.resources.loop_settings import TriggerSettings
from feedback_assets.resources.retraining_launcher import CommandLauncher
from feedback_assets.store import FeedbackStore
from feedback_assets.store.model_versions import (
    current_model_version,
    decide,
    model_history,
    register_candidate,
)
from feedback_assets.store.references import active_reference
from feedback_assets_tests.defs.conftest import register_deployments, resources_for

DEP = "support-bot"
HOUR_US = 3_600 * 10**6


def _traffic(store: FeedbackStore, version: str, start_us: int, n: int, down_share: float) -> None:
    ids = [f"{version}-{i}" for i in range(n)]
    stamps = pd.to_datetime(
        np.linspace(start_us, start_us + HOUR_US - 10**6, n), unit="us", utc=True
    )
    store.insert_events(
        pd.DataFrame(
            {
                "event_id": ids,
                "deployment_id": DEP,
                "model_version_id": version,
                "prompt": "how do I reset my password",
                "response": "Open settings, then security, then reset.",
                "metadata": "{}",
                "latency_ms": 10.0,
                "token_count": pd.array([9] * n, dtype="Int64"),
                "timestamp": stamps,
            }
        )
    )
    down = ids[: int(n * down_share)]
    store.insert_signals(
        pd.DataFrame(
            {
                "signal_id": [f"s-{i}" for i in down],
                "event_id": down,
                "signal_type": "thumbs_down",
                "user_id": None,
                "edited_response": None,
                "metadata": "{}",
                "timestamp": stamps[: len(down)],
            }
        )
    )


@pytest.fixture
def promoted(tmp_path: Path, instance: dg.DagsterInstance) -> tuple[FeedbackStore, dict]:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url)
    now = int(time.time() * 1e6)
    promoted_at = now - HOUR_US
    _traffic(store, "v1", promoted_at - HOUR_US, 400, down_share=0.05)
    register_candidate(store, DEP, "v2", "v1", "run-1")
    decide(store, DEP, "v2", "promoted", ["passed the evaluation gate"])
    store.update(
        "model_versions",
        {"deployment_id": DEP, "model_version_id": "v2"},
        {"decided_us": promoted_at},
    )
    register_deployments(instance, [DEP])
    return store, resources_for(url, tmp_path)


def _tick(instance: dg.DagsterInstance, resources: dict):
    sensor = defs().resolve_sensor_def("model_regression")
    with dg.build_sensor_context(
        instance=instance, resources=resources, sensor_name="model_regression"
    ) as ctx:
        return sensor(ctx)


def test_a_regression_rolls_back_in_launch_mode(
    promoted: tuple[FeedbackStore, dict], instance: dg.DagsterInstance
) -> None:
    store, resources = promoted
    _traffic(store, "v2", int(time.time() * 1e6) - HOUR_US, 400, down_share=0.30)
    out = _tick(instance, resources)
    assert isinstance(out, dg.SensorResult), out
    [request] = out.run_requests
    assert request.job_name == "model_rollback_job" and request.partition_key == DEP
    assert request.run_key == "rollback:support-bot:v2:0"
    recorded = model_history(store, DEP)[1]["eval"]["regression"]
    assert recorded["regressed"] and recorded["action"] == "rollback"
    assert recorded["tests"]["thumbs_down"]["promoted_rate"] == pytest.approx(0.30)
    run = (
        defs()
        .resolve_job_def("model_rollback_job")
        .execute_in_process(
            run_config=request.run_config,
            partition_key=DEP,
            instance=instance,
            resources=resources,
        )
    )
    assert run.success
    assert current_model_version(store, DEP) == "v1"
    assert [h["status"] for h in model_history(store, DEP)] == ["promoted", "rolled_back"]
    ref = active_reference(store, DEP)
    assert ref is not None and ref["model_version_id"] == "v1"
    # v1 is current again and not a retrained version: nothing left to watch.
    assert isinstance(_tick(instance, resources), dg.SkipReason)


def test_suggest_mode_only_records_the_verdict(
    promoted: tuple[FeedbackStore, dict], instance: dg.DagsterInstance
) -> None:
    store, resources = promoted
    resources = {**resources, "trigger_settings": TriggerSettings(mode="suggest")}
    _traffic(store, "v2", int(time.time() * 1e6) - HOUR_US, 400, down_share=0.30)
    out = _tick(instance, resources)
    assert isinstance(out, dg.SkipReason) and "would roll back" in (out.skip_message or "")
    [_, v2] = model_history(store, DEP)
    assert v2["status"] == "promoted" and v2["eval"]["regression"]["regressed"]
    assert current_model_version(store, DEP) == "v2"


def test_no_verdict_before_the_minimum_sample_nor_without_a_regression(
    promoted: tuple[FeedbackStore, dict], instance: dg.DagsterInstance
) -> None:
    store, resources = promoted
    _traffic(store, "v2", int(time.time() * 1e6) - HOUR_US, 50, down_share=0.9)
    out = _tick(instance, resources)
    assert isinstance(out, dg.SkipReason) and "waiting for traffic" in (out.skip_message or "")
    _traffic(store, "v2b", int(time.time() * 1e6) - HOUR_US, 1, down_share=0)  # other version
    assert current_model_version(store, DEP) == "v2"


def test_a_failed_rollback_is_requested_again(
    promoted: tuple[FeedbackStore, dict], instance: dg.DagsterInstance
) -> None:
    """The serving switch refused (its command failed): the version still serves, so the next
    tick asks again under a new run key instead of the spent one."""
    store, resources = promoted
    _traffic(store, "v2", int(time.time() * 1e6) - HOUR_US, 400, down_share=0.30)
    refusing = CommandLauncher(promote_command=[sys.executable, "-c", "raise SystemExit(1)"])
    resources = {**resources, "retraining_launcher": refusing}
    [first] = _tick(instance, resources).run_requests
    run = (
        defs()
        .resolve_job_def("model_rollback_job")
        .execute_in_process(
            run_config=first.run_config,
            partition_key=DEP,
            instance=instance,
            resources=resources,
            tags=first.tags,
            raise_on_error=False,
        )
    )
    assert not run.success and current_model_version(store, DEP) == "v2"
    [again] = _tick(instance, resources).run_requests
    assert again.run_key == "rollback:support-bot:v2:1"
