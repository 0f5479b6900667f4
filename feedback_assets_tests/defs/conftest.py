"""A small real feedback loop: demo traffic ingested through the SDK into a real store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets.client import FeedbackClient, Telemetry
from feedback_assets.demo.traffic import TrafficConfig, generate_traffic
from feedback_assets.resources.feedback_store import FeedbackStoreResource

TRAFFIC = TrafficConfig(seed=3, days=4, end_date=date(2026, 11, 4), events_per_day=150, drift_day=3)
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
DEPLOYMENTS = ["code-assistant", "json-extractor", "support-bot"]
# The demo's json-extractor promises JSON: invalid output there is a hard fail.
EXPECTED_FORMATS = {"json-extractor": "json"}


def loop_key(day: str, deployment: str) -> dg.MultiPartitionKey:
    from feedback_assets.defs.partitions import loop_key as key

    return key(day, deployment)


def register_deployments(instance: dg.DagsterInstance, deployments=DEPLOYMENTS) -> None:
    """What deployment_partitions_sensor does when traffic first arrives."""
    instance.add_dynamic_partitions("deployment", list(deployments))


def ingest(url: str, data_dir: Path, config: TrafficConfig = TRAFFIC) -> None:
    events, signals = generate_traffic(config)
    with FeedbackClient(
        url, data_dir=data_dir, raise_on_invalid=False, telemetry=Telemetry()
    ) as client:
        client.log_inferences(events)
        for s in signals:
            payload = dict(s)
            client.record_signal(
                payload.pop("event_id", None), payload.pop("signal_type", None), **payload
            )
        assert client.flush(60)


def resources_for(url: str, tmp_path: Path) -> dict:
    from feedback_assets.defs.resources import build_resources
    from feedback_assets.resources.loop_settings import QualitySettings

    return {
        **build_resources(),
        "feedback_store": FeedbackStoreResource(url=url, export_root=str(tmp_path / "exports")),
        "quality_settings": QualitySettings(expected_formats=EXPECTED_FORMATS),
    }


def run_loop_day(
    url: str,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    day: str,
    deployments=DEPLOYMENTS,
    resources: dict | None = None,
) -> dict[str, dg.ExecuteInProcessResult]:
    """feedback_loop_job for every deployment of one day (one run per deployment-day)."""
    from feedback_assets.definitions import defs

    register_deployments(instance, deployments)
    job = defs().resolve_job_def("feedback_loop_job")
    return {
        dep: job.execute_in_process(
            partition_key=loop_key(day, dep),
            instance=instance,
            resources=resources or resources_for(url, tmp_path),
        )
        for dep in deployments
    }


@pytest.fixture
def loop_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FEEDBACK_EXPORT_ROOT", str(tmp_path / "exports"))
    monkeypatch.delenv("FEEDBACK_STORE_URL", raising=False)
    return tmp_path


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def tie_evaluator():
    """The gate's endpoint where the candidate and the current model answer alike: a tie, which
    the default rule promotes (for tests about retraining itself, not about the gate)."""
    from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
    from feedback_assets_tests.openai_server import OpenAICompatServer

    with OpenAICompatServer(chat_handler=lambda body: "The same careful answer.") as server:
        yield ModelEvaluatorResource(base_url=server.base_url, api_key="sk-test", min_prompts=1)
