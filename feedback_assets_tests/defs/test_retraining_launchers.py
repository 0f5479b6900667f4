"""retraining_job with each launcher: lineage rows, model registration and the reference reset."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets.definitions import defs
from feedback_assets.resources.retraining_launcher import (
    OpenAIFineTuneLauncher,
    RetrainingLauncher,
    WebhookLauncher,
)
from feedback_assets.store import FeedbackStore
from feedback_assets.store.references import active_reference
from feedback_assets_tests.defs.conftest import DAYS, ingest, resources_for, run_loop_day
from feedback_assets_tests.openai_server import OpenAICompatServer
from feedback_assets_tests.resources.test_retraining_launcher import Hook

FAST = {"timeout_s": 20, "max_retries": 2, "backoff_s": 0.01}
RUN_CONFIG = {
    "ops": {
        "retraining_runs": {
            "config": {
                "trigger_types": ["manual"],
                "reasons": ["test"],
            }
        }
    }
}


@pytest.fixture
def curated(loop_env: Path, instance: dg.DagsterInstance, tie_evaluator) -> tuple[str, dict]:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    ingest(url, loop_env / "data")
    resources = {**resources_for(url, loop_env), "model_evaluator": tie_evaluator}
    results = run_loop_day(url, loop_env, instance, DAYS[0], resources=resources)
    assert all(r.success for r in results.values())
    return url, resources


def _retrain(
    instance: dg.DagsterInstance, resources: dict, launcher: RetrainingLauncher
) -> dg.ExecuteInProcessResult:
    job = defs().resolve_job_def("retraining_job")
    return job.execute_in_process(
        run_config=RUN_CONFIG,
        partition_key="code-assistant",
        instance=instance,
        raise_on_error=False,
        resources={**resources, "retraining_launcher": launcher},
    )


def test_openai_finetune_success_registers_model_and_resets_reference(
    curated: tuple[str, dict], instance: dg.DagsterInstance
) -> None:
    url, resources = curated
    store = FeedbackStore(url)
    before = active_reference(store, "code-assistant")
    with OpenAICompatServer() as server:
        launcher = OpenAIFineTuneLauncher(
            base_url=server.base_url, api_key="sk-test", poll_interval_s=0.05, **FAST
        )
        assert _retrain(instance, resources, launcher).success
        paths = [r["path"] for r in server.requests]
        assert server.calls("/files") == 1 and server.calls("/fine_tuning/jobs") == 1
        assert (
            sum("/fine_tuning/jobs/ftjob-" in p for p in paths) >= 2
        )  # polled to a terminal state
    [row] = store.read_table("retraining_runs").to_dict("records")
    assert row["status"] == "succeeded" and row["launcher"] == "openai_finetune"
    assert row["launcher_job_id"].startswith("ftjob-") and row["new_model_version_id"].startswith(
        "ft:"
    )
    assert json.loads(row["reasons"]) == ["test"]
    versions = store.read_table("model_versions")
    [version] = versions[versions["retraining_run_id"].notna()].to_dict("records")
    assert version["status"] == "promoted"  # a tie at the gate: the default rule promotes
    assert (
        version["model_version_id"] == row["new_model_version_id"]
        and version["retraining_run_id"] == row["run_id"]
    )
    batch = store.read_table("export_batches", export_batch_id=row["export_batch_id"])
    assert len(batch) == 1
    after = active_reference(store, "code-assistant")
    assert (
        after["reference_id"] != before["reference_id"]
        and after["model_version_id"] == version["model_version_id"]
    )


def test_openai_failed_job_is_recorded_and_keeps_the_reference(
    curated: tuple[str, dict], instance: dg.DagsterInstance
) -> None:
    url, resources = curated
    store = FeedbackStore(url)
    before = active_reference(store, "code-assistant")
    with OpenAICompatServer() as server:
        server.finetune_outcome = "failed"
        launcher = OpenAIFineTuneLauncher(
            base_url=server.base_url, api_key="sk-test", poll_interval_s=0.05, **FAST
        )
        assert not _retrain(instance, resources, launcher).success
    [row] = store.read_table("retraining_runs").to_dict("records")
    assert row["status"] == "failed" and row["error"]
    assert store.read_table("model_versions").empty  # no candidate: nothing to evaluate
    assert active_reference(store, "code-assistant")["reference_id"] == before["reference_id"]


def test_webhook_launcher_records_the_remote_job(
    curated: tuple[str, dict], instance: dg.DagsterInstance
) -> None:
    url, resources = curated
    hook = Hook([(500, '{"error": "busy"}'), (202, '{"job_id": "remote-7"}')])
    try:
        launcher = WebhookLauncher(webhook_url=hook.url, webhook_token="tok-secret", **FAST)
        assert _retrain(instance, resources, launcher).success
    finally:
        hook.close()
    [row] = FeedbackStore(url).read_table("retraining_runs").to_dict("records")
    assert row["status"] == "succeeded" and row["launcher_job_id"] == "remote-7"
    launch, promote = hook.received[-2]["json"], hook.received[-1]["json"]
    assert (
        launch["deployment_id"] == "code-assistant"
        and launch["export_batch_id"] == row["export_batch_id"]
    )
    # The candidate passed the gate: the same service is told to serve it.
    assert promote["action"] == "promote"
    assert promote["model_version_id"] == row["new_model_version_id"]
    assert len(hook.received) == 3  # the 500 was retried
