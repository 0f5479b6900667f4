"""Retraining trains on the training_exports batches it names, and on nothing else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets.definitions import defs
from feedback_assets.resources.retraining_launcher import CommandLauncher, RetrainingLauncher
from feedback_assets.services.retraining import NO_NEW_DATA
from feedback_assets.store import FeedbackStore
from feedback_assets.store.exports import bundle_sources, new_curated_count, unused_training_batches
from feedback_assets_tests.defs.conftest import DAYS, ingest, resources_for, run_loop_day

DEP = "code-assistant"
RUN_CONFIG = {"ops": {"retraining_runs": {"config": {"reasons": ["test"]}}}}


@pytest.fixture
def loop(loop_env: Path, instance: dg.DagsterInstance, tie_evaluator) -> tuple[str, dict]:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    ingest(url, loop_env / "data")
    return url, {**resources_for(url, loop_env), "model_evaluator": tie_evaluator}


def _day(day: str, instance: dg.DagsterInstance, resources: dict) -> None:
    results = run_loop_day("", Path(), instance, day, resources=resources)
    assert all(r.success for r in results.values())


def _retrain(
    instance: dg.DagsterInstance, resources: dict, launcher: RetrainingLauncher | None = None
) -> dg.ExecuteInProcessResult:
    extra = {"retraining_launcher": launcher} if launcher else {}
    return (
        defs()
        .resolve_job_def("retraining_job")
        .execute_in_process(
            run_config=RUN_CONFIG,
            partition_key=DEP,
            instance=instance,
            raise_on_error=False,
            resources={**resources, **extra},
        )
    )


def _latest_run(store: FeedbackStore) -> dict:
    return store.read_table("retraining_runs", order_by=["started_us"]).to_dict("records")[-1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_retraining_trains_on_the_batches_it_lists_and_uses_each_once(
    loop: tuple[str, dict], loop_env: Path, instance: dg.DagsterInstance
) -> None:
    url, resources = loop
    store = FeedbackStore(url)
    for day in DAYS[:2]:
        _day(day, instance, resources)
    result = _retrain(instance, resources)
    assert result.success
    row = _latest_run(store)
    sources = [f"{DEP}_{d}" for d in DAYS[:2]]
    assert bundle_sources(store, row["export_batch_id"]) == sources
    [mat] = result.asset_materializations_for_node("retraining_runs")
    assert mat.metadata["source_batch_ids"].value == sources
    exports = loop_env / "exports"
    merged = exports / row["export_batch_id"] / "openai_chat.jsonl"
    assert merged.read_bytes() == b"".join(
        (exports / s / "openai_chat.jsonl").read_bytes() for s in sources
    )
    bundle = json.loads((exports / row["export_batch_id"] / "manifest.json").read_text())
    assert bundle["files"]["openai_chat"]["sha256"] == _sha(merged)
    for src in bundle["source_batches"]:
        assert src["files"]["openai_chat"]["sha256"] == _sha(
            exports / src["batch_id"] / "openai_chat.jsonl"
        )
    # The trainer read exactly the merged file of those batches.
    model = json.loads(
        (
            Path(resources["retraining_launcher"].model_dir)
            / row["new_model_version_id"]
            / "model.json"
        ).read_text()
    )
    assert model["training_file_sha256"] == _sha(merged)
    assert model["export_batch_id"] == row["export_batch_id"]
    assert model["examples"] == bundle["counts"]["curated"] == mat.metadata["examples"].value > 0
    assert unused_training_batches(store, DEP) == [] and new_curated_count(store, DEP) == 0

    again = _retrain(instance, resources)  # nothing new: fails, as before the change
    assert not again.success
    failed = _latest_run(store)
    assert failed["status"] == "failed" and NO_NEW_DATA in failed["error"]

    _day(DAYS[2], instance, resources)
    assert _retrain(instance, resources).success
    assert bundle_sources(store, _latest_run(store)["export_batch_id"]) == [f"{DEP}_{DAYS[2]}"]


def test_a_tampered_source_fails_the_run_and_a_failed_launch_gives_batches_back(
    loop: tuple[str, dict], loop_env: Path, instance: dg.DagsterInstance
) -> None:
    url, resources = loop
    store = FeedbackStore(url)
    _day(DAYS[0], instance, resources)
    source = loop_env / "exports" / f"{DEP}_{DAYS[0]}" / "openai_chat.jsonl"
    original = source.read_bytes()
    source.write_bytes(original.replace(b'"assistant"', b'"ASSISTANT"', 1))
    assert not _retrain(instance, resources).success
    row = _latest_run(store)
    assert row["status"] == "failed" and "changed since it was exported" in row["error"]
    assert str(source) in row["error"] and store.read_table("model_versions").empty

    source.write_bytes(original)
    broken = CommandLauncher(
        command=["python", "-c", "import sys; sys.exit(3)"],
        model_dir=resources["retraining_launcher"].model_dir,
    )
    assert not _retrain(instance, resources, broken).success
    assert _latest_run(store)["status"] == "failed"
    # Neither failure used the batch up: it is still there for the next retraining.
    assert [b["export_batch_id"] for b in unused_training_batches(store, DEP)] == [
        source.parent.name
    ]
    assert new_curated_count(store, DEP) > 0

    assert _retrain(instance, resources).success
    assert bundle_sources(store, _latest_run(store)["export_batch_id"]) == [source.parent.name]
