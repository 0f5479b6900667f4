"""Materialize the loop in process against real stores: rows, metadata, checks, idempotency."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from feedback_assets.defs.assets.curated_sets import curated_sets
from feedback_assets.defs.assets.drift_reports import drift_reports
from feedback_assets.defs.assets.quality_scores import quality_scores
from feedback_assets.defs.assets.raw_inferences import raw_inferences
from feedback_assets.defs.assets.sanitized_logs import sanitized_logs
from feedback_assets.defs.assets.training_exports import training_exports
from feedback_assets.domain.pii.sanitized_logs import leak_counts
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.conftest import DAYS, LOOP_CONFIG, ingest, resources_for

LOOP = [
    raw_inferences,
    sanitized_logs,
    quality_scores,
    drift_reports,
    curated_sets,
    training_exports,
]
TABLES = (
    "sanitized_logs",
    "sanitized_signals",
    "quality_scores",
    "drift_results",
    "drift_history",
    "curated_examples",
)


def _materialize(
    url: str, tmp_path: Path, instance: dg.DagsterInstance, day: str
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        LOOP,
        partition_key=day,
        resources=resources_for(url, tmp_path),
        instance=instance,
        run_config=LOOP_CONFIG,
    )


def _snapshot(store: FeedbackStore, day: str) -> dict[str, pd.DataFrame]:
    out = {}
    for table in TABLES:
        frame = store.read_table(table, partition_key=day)
        sort = [
            c for c in ("deployment_id", "event_id", "signal_id", "feature", "test") if c in frame
        ]
        out[table] = frame.sort_values(sort).reset_index(drop=True)
    return out


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [mat] = result.asset_materializations_for_node(asset)
    return mat.metadata


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


def test_one_partition_end_to_end_and_idempotent(
    loop_env: Path, instance: dg.DagsterInstance
) -> None:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    ingest(url, loop_env / "data")
    result = _materialize(url, loop_env, instance, DAYS[1])
    assert result.success
    checks = _checks(result)
    assert checks["no_pii_leak"] and checks["exports_load_back"] and checks["no_reported_positives"]
    assert checks["curated_unique"]

    raw = _metadata(result, "raw_inferences")
    assert raw["events"].value > 300 and raw["signals"].value > 0
    assert set(raw["events_per_deployment"].value) == {
        "support-bot",
        "code-assistant",
        "json-extractor",
    }
    sanitized = _metadata(result, "sanitized_logs")
    assert {"redactions_by_entity", "preview", "events_per_deployment"} <= set(sanitized)
    quality = _metadata(result, "quality_scores")
    assert set(quality["pass_rate_by_check"].value) == {"format", "length", "refusal", "repetition"}
    assert quality["judge_enabled"].value is False
    drift = _metadata(result, "drift_reports")
    assert set(drift["verdicts"].value) == {"support-bot", "code-assistant", "json-extractor"}
    curated = _metadata(result, "curated_sets")
    assert curated["curated"].value > 0 and curated["by_strategy"].value
    exports = _metadata(result, "training_exports")
    assert set(exports["files"].value) == {"support-bot", "code-assistant", "json-extractor"}

    store = FeedbackStore(url)
    first = _snapshot(store, DAYS[1])
    scored = first["quality_scores"]
    assert len(scored) == raw["events"].value
    assert {
        "format_passed",
        "length_passed",
        "refusal_passed",
        "repetition_passed",
        "score",
    } <= set(scored)
    assert scored["judge_score"].isna().all()  # judge off: absent, never 1.0
    assert not any(
        leak_counts(first["sanitized_logs"], ("prompt", "response", "metadata")).values()
    )
    manifest_dir = loop_env / "exports" / "support-bot_2026-11-02"
    assert (manifest_dir / "manifest.json").exists() and (manifest_dir / "curated.parquet").exists()

    again = _materialize(url, loop_env, instance, DAYS[1])
    assert again.success
    second = _snapshot(store, DAYS[1])
    for table in TABLES:
        pd.testing.assert_frame_equal(first[table], second[table], obj=table)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backfill_flags_the_drifted_deployment_only(
    backend: str, loop_env: Path, instance: dg.DagsterInstance, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    ingest(url, loop_env / "data")
    for day in DAYS:
        assert _materialize(url, loop_env, instance, day).success
    store = FeedbackStore(url)
    history = store.read_table("drift_history", source="asset")
    assert len(history) == len(DAYS) * 3
    drifted = history[history["drifted"]]
    assert set(drifted["deployment_id"]) == {"support-bot"}
    assert set(drifted["partition_key"]) <= {"2026-11-03", "2026-11-04"}
    assert len(drifted) >= 1
    batches = store.read_table("export_batches")
    assert len(batches) == len(DAYS) * 3
    store.dispose()
