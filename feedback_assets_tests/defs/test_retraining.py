"""Sensors, schedule and retraining_job on a real store, through Dagster's own machinery."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.defs_state.base import _current_storage

from feedback_assets.definitions import defs
from feedback_assets.resources.loop_settings import TriggerSettings
from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
from feedback_assets.store import FeedbackStore
from feedback_assets.store.exports import unused_training_batches
from feedback_assets.store.model_versions import current_model_version, model_history
from feedback_assets.store.references import active_reference
from feedback_assets_tests.defs.conftest import (
    DAYS,
    ingest,
    register_deployments,
    resources_for,
    run_loop_day,
)
from feedback_assets_tests.openai_server import OpenAICompatServer

GOOD_ANSWER = (
    "Here are the steps: open the settings page, choose the option you need, confirm the change, "
    "and check the result in the summary view."
)


class Models:
    """The eval endpoint: retrained candidates (ids with -ft-) answer `candidate`; the models
    seen in traffic answer `current`."""

    def __init__(self) -> None:
        self.candidate, self.current = GOOD_ANSWER, ""

    def __call__(self, body: dict) -> str:
        return self.candidate if "-ft-" in body["model"] else self.current


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture(scope="module")
def loop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test traffic through feedback_loop_job for every day, once per module (12 runs).
    Each test gets a copy: the sensors and jobs read the store, and the instance only for the
    registered deployments and in-flight retraining runs, which a fresh one is given."""
    root = tmp_path_factory.mktemp("loop-template")
    url = f"sqlite:///{root / 'data' / 'feedback.db'}"
    # The runs leave Dagster's defs-state context variable on this fixture's instance; the root
    # conftest restores it per test, but only around tests, and this runs before the first one.
    # Left set, later modules' `defs()` would meet the disposed instance (undefined weakref).
    before = _current_storage.get()
    try:
        with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
            mp.setenv("FEEDBACK_DATA_DIR", str(root / "data"))
            mp.setenv("FEEDBACK_EXPORT_ROOT", str(root / "exports"))
            mp.delenv("FEEDBACK_STORE_URL", raising=False)
            ingest(url, root / "data")
            for day in DAYS:
                resources = resources_for(url, root)
                results = run_loop_day(url, root, instance, day, resources=resources)
                assert all(r.success for r in results.values())
    finally:
        _current_storage.set(before)
    return root


@pytest.fixture
def looped(
    loop_template: Path, loop_env: Path, instance: dg.DagsterInstance, models: Models
) -> tuple[str, dict]:
    for name in ("data", "exports"):
        shutil.copytree(loop_template / name, loop_env / name, dirs_exist_ok=True)
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    store = FeedbackStore(url)
    with store.engine.begin() as conn:  # export batches name where they were written
        conn.execute(
            sa.text("UPDATE export_batches SET root = replace(root, :old, :new), "
                    "manifest = replace(manifest, :old, :new)"),
            {"old": str(loop_template), "new": str(loop_env)},
        )  # fmt: skip
    store.dispose()
    register_deployments(instance)
    with OpenAICompatServer(chat_handler=models) as server:
        resources = {
            **resources_for(url, loop_env),
            "model_evaluator": ModelEvaluatorResource(
                base_url=server.base_url, api_key="sk-test", min_prompts=5
            ),
        }
        yield url, resources


def _tick(name: str, instance: dg.DagsterInstance, resources: dict):
    sensor = defs().resolve_sensor_def(name)
    with dg.build_sensor_context(instance=instance, resources=resources, sensor_name=name) as ctx:
        return sensor(ctx)


def test_drift_sensor_launches_once_for_the_drifted_deployment(
    looped: tuple[str, dict], instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, resources = looped
    out = _tick("drift_retraining_sensor", instance, resources)
    assert isinstance(out, dg.SensorResult)
    [request] = out.run_requests
    assert request.tags["feedback/deployment"] == "support-bot"
    assert "drift_threshold" in request.tags["feedback/triggers"]
    assert request.run_key.startswith("support-bot:") and "drift_threshold" in request.run_key
    # Same state, same tick: the same run_key (Dagster launches a key once).
    again = _tick("drift_retraining_sensor", instance, resources)
    assert [r.run_key for r in again.run_requests] == [request.run_key]

    job = defs().resolve_job_def("retraining_job")
    run = job.execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        instance=instance,
        tags=request.tags,
        resources=resources,
    )
    assert run.success
    store = FeedbackStore(url)
    [row] = store.read_table("retraining_runs").to_dict("records")
    assert row["status"] == "succeeded" and row["deployment_id"] == "support-bot"
    assert "drift_threshold" in json.loads(row["trigger_types"])
    assert row["new_model_version_id"].startswith("support-bot-ft-")
    assert (
        Path(resources["retraining_launcher"].model_dir)
        / row["new_model_version_id"]
        / "model_card.md"
    ).exists()
    # The candidate beat the current model on the eval set, so it was promoted.
    history = model_history(store, "support-bot")
    assert [h["status"] for h in history] == ["promoted", "promoted"]
    assert history[1]["model_version_id"] == row["new_model_version_id"]
    assert history[1]["parent_model_version_id"] == history[0]["model_version_id"]
    assert history[1]["eval"]["wins"] > history[1]["eval"]["losses"]
    assert current_model_version(store, "support-bot") == row["new_model_version_id"]
    checks = run.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("candidate_not_worse", True)]
    ref = active_reference(store, "support-bot")
    assert ref is not None and ref["model_version_id"] == row["new_model_version_id"]
    # After the reset: drift history restarts, and the cooldown holds any new launch.
    after = _tick("drift_retraining_sensor", instance, resources)
    assert isinstance(after, dg.SkipReason)
    assert "support-bot" in after.skip_message
    history = store.read_table("trigger_history", deployment_id="support-bot")
    assert {"launched", "none"} & set(history["action"])


def test_suggest_only_records_without_launching(
    looped: tuple[str, dict], instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, resources = looped
    # One source per setting: the sensors read the trigger_settings resource.
    resources = {**resources, "trigger_settings": TriggerSettings(mode="suggest")}
    out = _tick("drift_retraining_sensor", instance, resources)
    assert isinstance(out, dg.SkipReason) and "would retrain" in out.skip_message
    history = FeedbackStore(url).read_table("trigger_history", action="suggested")
    assert set(history["deployment_id"]) == {"support-bot"}


def test_schedule_fires_first_time_for_every_deployment(
    looped: tuple[str, dict], instance: dg.DagsterInstance
) -> None:
    _, resources = looped
    schedule = defs().resolve_schedule_def("scheduled_retraining")
    with dg.build_schedule_context(
        instance=instance, resources=resources, scheduled_execution_time=datetime.now(UTC)
    ) as ctx:
        out = schedule(ctx)
    assert sorted(r.tags["feedback/deployment"] for r in out) == [
        "code-assistant",
        "json-extractor",
        "support-bot",
    ]
    assert all(r.tags["feedback/triggers"] == "scheduled" for r in out)


def test_triggers_firing_together_coalesce_into_one_run(
    looped: tuple[str, dict], instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, resources = looped
    # Every deployment has more than 10 new curated examples.
    resources = {**resources, "trigger_settings": TriggerSettings(data_count_threshold=10)}
    drift = _tick("drift_retraining_sensor", instance, resources)
    # Drift fired only for support-bot; its run carries every reason firing at that moment: the
    # count, the drift, and its quality drop against the reference window.
    [request] = drift.run_requests
    assert request.tags["feedback/deployment"] == "support-bot"
    assert request.tags["feedback/triggers"] == "data_count+drift_threshold+quality_drop"
    config = request.run_config["ops"]["retraining_runs"]["config"]
    assert config["trigger_types"] == ["data_count", "drift_threshold", "quality_drop"]
    assert len(config["reasons"]) == 3
    count = _tick("data_count_retraining_sensor", instance, resources)
    assert sorted(r.tags["feedback/deployment"] for r in count.run_requests) == [
        "code-assistant",
        "json-extractor",
        "support-bot",
    ]
    # Launch the drift run; the count sensor then holds support-bot back instead of launching twice.
    job = defs().resolve_job_def("retraining_job")
    assert job.execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        instance=instance,
        tags=request.tags,
        resources=resources,
    ).success
    after = _tick("data_count_retraining_sensor", instance, resources)
    assert "support-bot" not in {r.tags["feedback/deployment"] for r in after.run_requests}


def test_quality_drop_fires_relative_to_the_reference_for_the_degraded_deployment_only(
    looped: tuple[str, dict], instance: dg.DagsterInstance
) -> None:
    _, resources = looped
    out = _tick("quality_drop_retraining_sensor", instance, resources)
    assert isinstance(out, dg.SensorResult), out
    [request] = out.run_requests  # support-bot degrades from its drift day; the others are healthy
    assert request.tags["feedback/deployment"] == "support-bot"
    assert "quality_drop" in request.tags["feedback/triggers"]
    reasons = request.run_config["ops"]["retraining_runs"]["config"]["reasons"]
    assert any(r.startswith("relative drop:") for r in reasons), reasons


def test_a_worse_candidate_is_rejected_at_the_gate_and_nothing_changes(
    looped: tuple[str, dict], instance: dg.DagsterInstance, models: Models
) -> None:
    url, resources = looped
    models.candidate, models.current = "", GOOD_ANSWER  # the retrained model answers nothing
    store = FeedbackStore(url)
    reference = active_reference(store, "support-bot")
    served = current_model_version(store, "support-bot")
    run = (
        defs()
        .resolve_job_def("retraining_job")
        .execute_in_process(
            partition_key="support-bot",
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
    )
    assert not run.success  # the blocking check stops the run before model_promotions
    [check] = run.get_asset_check_evaluations()
    assert check.check_name == "candidate_not_worse" and not check.passed
    assert "model_promotions" not in {
        m.asset_key.to_user_string()
        for m in run.asset_materializations_for_node("model_promotions")
    }
    [_, cand] = model_history(store, "support-bot")
    assert cand["status"] == "rejected" and "worse" in cand["reasons"][0]
    assert current_model_version(store, "support-bot") == served
    assert active_reference(store, "support-bot") == reference
    # A rejected candidate still counts as a retraining for the cooldown, and gives its
    # examples back: the next retraining trains on them again.
    [row] = store.read_table("retraining_runs").to_dict("records")
    assert row["status"] == "succeeded"
    assert len(unused_training_batches(store, "support-bot")) == len(DAYS)
    assert store.count("export_marks", export_batch_id=row["export_batch_id"]) == 0
    after = _tick("data_count_retraining_sensor", instance, resources)
    launched = {r.tags["feedback/deployment"] for r in getattr(after, "run_requests", [])}
    assert "support-bot" not in launched
