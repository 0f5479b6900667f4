"""Materialize the loop in process against real stores: rows, metadata, checks, idempotency."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from feedback_assets.domain.pii.sanitized_logs import leak_counts
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.conftest import DAYS, DEPLOYMENTS, ingest, run_loop_day

TABLES = (
    "sanitized_logs",
    "sanitized_signals",
    "quality_scores",
    "drift_results",
    "drift_history",
    "curated_examples",
    "prompt_splits",
)


def _snapshot(store: FeedbackStore, day: str) -> dict[str, pd.DataFrame]:
    out = {}
    for table in TABLES:
        frame = store.read_table(table, partition_key=day)
        keys = ("deployment_id", "event_id", "signal_id", "feature", "test", "prompt_key")
        sort = [c for c in keys if c in frame]
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
    results = run_loop_day(url, loop_env, instance, DAYS[1])
    assert all(r.success for r in results.values())
    total_events = 0
    for dep, result in results.items():
        checks = _checks(result)
        assert checks["no_pii_leak"] and checks["exports_load_back"], dep
        assert checks["no_reported_positives"] and checks["curated_unique"], dep
        assert checks["sft_rows_approved"], dep
        raw = _metadata(result, "raw_inferences")
        assert raw["deployment_id"].value == dep
        assert raw["events"].value > 100 and raw["signals"].value > 0
        total_events += raw["events"].value
        sanitized = _metadata(result, "sanitized_logs")
        assert {"redactions_by_entity", "preview", "rows_changed"} <= set(sanitized)
        quality = _metadata(result, "quality_scores")
        rates = {
            r.data["check"]: r.data["pass_rate"] for r in quality["pass_rate_by_check"].records
        }
        assert set(rates) == {"format", "length", "refusal", "repetition"}
        assert all(0.0 <= v <= 1.0 for v in rates.values())
        assert quality["judge_enabled"].value is False
        # Headline numbers are numeric metadata, so the UI plots them over partitions.
        assert isinstance(quality["quality_mean"].value, float)
        drift = _metadata(result, "drift_reports")
        assert isinstance(drift["drift_score"].value, float)
        curated = _metadata(result, "curated_sets")
        assert curated["curated"].value > 0
        by_strategy = {r.data["strategy"]: r.data["count"] for r in curated["by_strategy"].records}
        assert sum(by_strategy.values()) == curated["curated"].value
        # Curation is selective: approved answers (sft) are a minority of the day's traffic.
        traffic = curated["traffic"].value
        roles = ("sft", "preference", "kto", "eval")
        assert sum(curated[f"n_{r}"].value for r in roles) == curated["curated"].value
        assert 0 < curated["n_sft"].value < traffic / 2, dep
        assert curated["share_sft"].value == round(curated["n_sft"].value / traffic, 4)
        assert curated["eval_set_size"].value > 0 and curated["eval_set_version"].value == 1
        # The drift table keeps p-values as numbers (a tiny one is never printed as 0.000).
        p_values = [r.data["p_value"] for r in drift["results"].records]
        assert p_values and all(p is None or isinstance(p, float) for p in p_values)
        # Each check result is tagged with its deployment-day partition.
        for evaluation in result.get_asset_check_evaluations():
            assert evaluation.partition == f"{DAYS[1]}|{dep}", evaluation

    store = FeedbackStore(url)
    first = _snapshot(store, DAYS[1])
    scored = first["quality_scores"]
    assert len(scored) == total_events
    assert set(scored["deployment_id"]) == set(DEPLOYMENTS)
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

    # A re-run of one deployment leaves the other deployments' rows and its own rows identical.
    again = run_loop_day(url, loop_env, instance, DAYS[1], deployments=["support-bot"])
    assert again["support-bot"].success
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
        assert all(r.success for r in run_loop_day(url, loop_env, instance, day).values())
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


def test_a_dead_embeddings_endpoint_skips_embeddings_instead_of_failing(
    loop_env: Path, instance: dg.DagsterInstance
) -> None:
    import socket

    from feedback_assets.resources.embedder import EmbedderResource
    from feedback_assets_tests.defs.conftest import resources_for

    with socket.socket() as s:  # a port with nothing listening: connections are refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    ingest(url, loop_env / "data")
    embedder = EmbedderResource(kind="openai", base_url=dead, api_key="sk-x", circuit_failures=1)
    resources = {**resources_for(url, loop_env), "embedder": embedder}
    [result] = run_loop_day(
        url, loop_env, instance, DAYS[1], deployments=["support-bot"], resources=resources
    ).values()
    assert result.success
    for asset in ("drift_reports", "curated_sets"):
        reason = _metadata(result, asset)["embeddings_skipped"].value
        assert "embedder" in reason or "Connection" in reason, reason
    drift = FeedbackStore(url).read_table("drift_results", partition_key=DAYS[1])
    assert len(drift) and "embedding" not in set(drift["feature"])  # the other tests still ran
