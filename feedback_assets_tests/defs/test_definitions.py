"""The code location loads, with exactly the names users and docs rely on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from feedback_assets.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_exact_names() -> None:
    d = defs()
    graph = d.resolve_asset_graph()
    assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert assets == [
        "candidate_evaluations",
        "curated_sets",
        "drift_reports",
        "live_drift",
        "model_promotions",
        "quality_scores",
        "raw_inferences",
        "retraining_runs",
        "sanitized_logs",
        "training_exports",
    ]
    checks = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    assert checks == [
        "candidate_evaluations:candidate_not_worse",
        "curated_sets:curated_unique",
        "curated_sets:no_reported_positives",
        "curated_sets:sft_rows_approved",
        "drift_reports:no_drift",
        "quality_scores:quality_above_threshold",
        "raw_inferences:signals_have_events",
        "sanitized_logs:no_pii_leak",
        "training_exports:exports_load_back",
    ]
    assert sorted(j.name for j in d.jobs) == [
        "check_triggers_job",
        "export_feedback_job",
        "feedback_loop_job",
        "live_drift_job",
        "model_rollback_job",
        "retention_job",
        "retraining_job",
    ]
    assert sorted(s.name for s in d.sensors) == [
        "alert_sensor",
        "data_count_retraining_sensor",
        "deployment_partitions_sensor",
        "drift_retraining_sensor",
        "model_regression",
        "quality_drop_retraining_sensor",
    ]
    assert sorted(s.name for s in d.schedules) == [
        "daily_feedback_loop_schedule",
        "live_drift_schedule",
        "retention_schedule",
        "scheduled_retraining",
    ]
    assert sorted(d.resources) == [
        "alert_webhook",
        "curation_settings",
        "drift_settings",
        "embedder",
        "feedback_store",
        "llm_judge",
        "model_evaluator",
        "quality_settings",
        "retention_settings",
        "retraining_launcher",
        "trigger_settings",
    ]
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"feedback_loop"}


def test_partitions_are_day_by_deployment_and_checks_carry_them() -> None:
    from feedback_assets.defs.partitions import deployment_partitions, loop_partitions

    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        by_deployment = key.to_user_string() in (
            "retraining_runs",
            "candidate_evaluations",
            "model_promotions",
            "live_drift",
        )
        expected = deployment_partitions if by_deployment else loop_partitions
        assert graph.get(key).partitions_def == expected, key
    for check_key in graph.asset_check_keys:
        # Without partitions_def Dagster records an unpartitioned result plus a "Skipped" row.
        # A check is partitioned like its asset.
        expected = graph.get(check_key.asset_key).partitions_def
        assert graph.get_check_spec(check_key).partitions_def == expected, check_key


def test_a_new_definition_file_is_discovered_without_editing_a_list(tmp_path: Path) -> None:
    # Auto-discovery: module-level definitions in any file under defs/ are loaded.
    code = (
        "import dagster as dg\n"
        "@dg.sensor(job_name='retraining_job')\n"
        "def zz_probe_sensor(context):\n"
        "    return dg.SkipReason('probe')\n"
    )
    # In a copy of the package: tests running in parallel load the checkout's code location.
    shutil.copytree(
        ROOT / "feedback_assets",
        tmp_path / "feedback_assets",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy2(ROOT / "pyproject.toml", tmp_path)  # the defs folder's project root
    (tmp_path / "feedback_assets" / "defs" / "zz_probe_sensor.py").write_text(code)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import feedback_assets; print(feedback_assets.__file__);"
            "from feedback_assets.definitions import defs;"
            "print(sorted(s.name for s in defs().sensors))",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.startswith(str(tmp_path / "feedback_assets")), out.stdout + out.stderr
    assert "zz_probe_sensor" in out.stdout, out.stdout + out.stderr


def test_a_registered_trigger_type_gets_its_sensor_without_editing_defs() -> None:
    # A new type is a registry entry plus its decision function: the sensor is generated.
    code = (
        "from feedback_assets.domain.records import TriggerDecision\n"
        "from feedback_assets.domain.triggers import registry\n"
        "def always(state, config=None, now=None):\n"
        "    return TriggerDecision('always', True, 'always', {})\n"
        "registry.TRIGGERS['always'] = registry.TriggerSpec(\n"
        "    'always', always, 'sensor', 'always_retraining_sensor', 'Always due.')\n"
        "from feedback_assets.definitions import defs\n"
        "sensor = defs().resolve_sensor_def('always_retraining_sensor')\n"
        "print(sensor.name, sensor.job_name, sensor.description)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "always_retraining_sensor retraining_job Always due.", out.stderr


def test_dagster_validate_passes_without_deprecations(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # "always" prints every warning with the file that raised it.
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "PYTHONWARNINGS": "always"}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "All code locations passed validation" in out
    # Dagster warns about its own internals (the command is superseded by `dg check defs`, and its
    # schedule snapshot reads a deprecated property); no warning may come from our code.
    ours = [line for line in out.splitlines() if "Warning" in line and "/feedback_assets/" in line]
    assert ours == [], ours


def test_the_loop_job_releases_memory_after_every_step() -> None:
    """Its steps share one process: the hooks hand each step's freed memory back, so the run's
    peak is its largest step's, not the sum of the steps (bench_scale measures it)."""
    from feedback_assets.defs.release_memory import RELEASE_MEMORY_HOOKS, release_memory

    job = defs().resolve_job_def("feedback_loop_job")
    names = {h.name for h in job.hook_defs}
    assert names == {h.name for h in RELEASE_MEMORY_HOOKS}
    assert names == {"release_memory_after_step", "release_memory_after_failed_step"}
    release_memory()  # callable outside a run, on any libc
