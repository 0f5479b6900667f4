"""End to end: `dagster dev` (webserver + daemon) as a new user and as a deployment runs it.

- A fresh copy of the project with no environment: the root dagster.yaml is the embedded default,
  `dg check defs` passes, and plain `dagster dev` answers and shows what `make demo` recorded.
- On a PostgreSQL instance (deploy/postgres) and the demo data, the drift sensor must launch a
  retraining_job run for the drifted deployment, and that run must succeed, within 3 minutes; no
  drift-triggered run may start for a healthy deployment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml

from feedback_assets.defs.partitions import loop_partitions
from feedback_assets.demo.__main__ import dagster_home
from feedback_assets_tests.defs.conftest import DAYS, ingest, resources_for, run_loop_day
from feedback_assets_tests.openai_server import OpenAICompatServer
from feedback_assets_tests.pg_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
RUNS_QUERY = """
{ runsOrError(filter: {pipelineName: "retraining_job"}) {
    ... on Runs { results { runId status tags { key value } startTime endTime } } } }
"""
DEMO_RUNS_QUERY = """
{ runsOrError(filter: {pipelineName: "feedback_loop_job"}) { ... on Runs { results { status } } } }
"""
REPO_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name sensors { name sensorState { status } } schedules { name }
    assetNodes { assetKey { path } } } } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def _wait_for_server(port: int, proc: subprocess.Popen, deadline: float) -> None:
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dagster dev exited early with {proc.returncode}")
        try:
            _graphql(port, "{ version }")
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("dagster dev did not answer in time")


def _start_dev(
    args: list[str], cwd: Path, env: dict[str, str], port: int, log: Path
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", *args, "-h", "127.0.0.1", "-p", str(port)],
        cwd=cwd,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: one signal stops webserver + daemon
        preexec_fn=_signals_as_from_a_shell,
    )


def _signals_as_from_a_shell() -> None:
    """A shell starts dagster dev with no signal blocked and default dispositions; the test
    process may have changed both by now (other tests install handlers and masks)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the whole group (dagster dev maps it to an interrupt); SIGKILL after 60 s (the
    webserver's graceful shutdown took over 30 s on a loaded 2-core machine, and only a clean
    exit removes dagster dev's temporary home)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # a child that outlived dagster dev
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_dagster_dev_sensor_launches_retraining_for_drifted_deployment(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    db = f"dagster_{os.getpid()}"
    postgres.create_database(db)
    store_url = postgres.create_database(f"feedback_{os.getpid()}")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USERNAME": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_DB": db,
        "FEEDBACK_STORE_URL": store_url,
        "FEEDBACK_DATA_DIR": str(tmp_path / "data"),
        "FEEDBACK_EXPORT_ROOT": str(tmp_path / "exports"),
        "FEEDBACK_SENSOR_INTERVAL_SECONDS": "5",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        # The demo data, materialized on the same PostgreSQL instance the UI will show.
        ingest(store_url, tmp_path / "data")
        with dg.DagsterInstance.get() as instance:
            resources = resources_for(store_url, tmp_path)
            for day in DAYS:
                results = run_loop_day(store_url, tmp_path, instance, day, resources=resources)
                assert all(r.success for r in results.values())
    finally:
        os.environ.clear()
        os.environ.update(saved)

    # The gate's endpoint: the retrained candidate answers, the logged model does not.
    models = OpenAICompatServer(
        chat_handler=lambda body: (
            "Step by step: open settings, change it, save." if "-ft-" in body["model"] else ""
        )
    ).start()
    env = {**env, "FEEDBACK_EVAL_BASE_URL": models.base_url, "FEEDBACK_EVAL_MIN_PROMPTS": "5"}
    port = _free_port()
    started = time.time()
    proc = _start_dev(["-w", "workspace.yaml"], ROOT, env, port, tmp_path / "dev.log")
    try:
        _wait_for_server(port, proc, started + 90)
        repo = _graphql(port, REPO_QUERY)["repositoriesOrError"]["nodes"][0]
        assert {s["name"] for s in repo["sensors"]} == {
            "alert_sensor",
            "deployment_partitions_sensor",
            "drift_retraining_sensor",
            "quality_drop_retraining_sensor",
            "data_count_retraining_sensor",
            "model_regression",
        }
        assert all(s["sensorState"]["status"] == "RUNNING" for s in repo["sensors"])
        assert {s["name"] for s in repo["schedules"]} == {
            "daily_feedback_loop_schedule",
            "live_drift_schedule",
            "retention_schedule",
            "scheduled_retraining",
        }
        assert ["drift_reports"] in [a["assetKey"]["path"] for a in repo["assetNodes"]]

        succeeded = None
        while time.time() < started + 180 and succeeded is None:
            runs = _graphql(port, RUNS_QUERY)["runsOrError"]["results"]
            for run in runs:
                tags = {t["key"]: t["value"] for t in run["tags"]}
                if "drift_threshold" in tags.get("feedback/triggers", ""):
                    assert tags["feedback/deployment"] == "support-bot", tags
                    if run["status"] == "SUCCESS":
                        succeeded = run
                    assert run["status"] not in ("FAILURE", "CANCELED"), (
                        tmp_path / "dev.log"
                    ).read_text()[-4000:]
            time.sleep(2)
        assert succeeded is not None, (tmp_path / "dev.log").read_text()[-4000:]
        latency = succeeded["endTime"] - started
        print(f"detection-to-run latency: {latency:.1f} s after dagster dev started")
        assert latency < 180
    finally:
        _stop(proc)
        models.stop()


def _clean_env(project: Path) -> dict[str, str]:
    """The environment of a new user: no Dagster home, no PostgreSQL, no project settings."""
    dropped = ("DAGSTER_", "FEEDBACK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["PYTHONPATH"] = str(project)
    return env


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's tracked (and new, unignored) files in a temp dir, as a clone would have."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("clone")
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def test_root_dagster_yaml_is_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith(("DAGSTER_HOME", "DAGSTER_PG_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # storage paths in dagster.yaml are relative to the cwd
    with dg.DagsterInstance.from_config(str(ROOT)) as instance:
        assert instance.get_ref().storage_data.config_dict == {"base_dir": "data/dagster_home"}
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 4
        assert list(queue.tag_concurrency_limits) == [
            {"key": "feedback/deployment", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            {
                "key": "dagster/partition/deployment",
                "value": {"applyLimitPerUniqueValue": True},
                "limit": 1,
            },
        ]
        assert not instance.telemetry_enabled
    assert (tmp_path / "data" / "dagster_home" / "history" / "runs.db").is_file()
    # The PostgreSQL config lives apart and needs its variables.
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PG_USERNAME"):
        dg.DagsterInstance.from_config(str(ROOT / "deploy" / "postgres"))


def test_one_run_per_partition_on_both_instances(tmp_path: Path) -> None:
    """Both configs queue a second run of a deployment-day, keyed on the tag Dagster puts on
    every partitioned run (a backfill's runs, sensor and manual runs alike)."""
    limits = [
        yaml.safe_load((d / "dagster.yaml").read_text())["concurrency"]["runs"]
        for d in (ROOT, ROOT / "deploy" / "postgres")
    ]
    assert limits[0] == limits[1]
    assert {
        "key": "dagster/partition",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in (limits[0]["tag_concurrency_limits"])

    @dg.asset(partitions_def=loop_partitions)
    def probe() -> None:
        return None

    key = "2026-11-01|support-bot"
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions("deployment", ["support-bot"])
        result = dg.materialize([probe], partition_key=key, instance=instance)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.tags["dagster/partition"] == key


def test_demo_records_where_plain_dagster_dev_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The default --data-dir: the root config itself, no second dagster.yaml.
    assert dagster_home(tmp_path / "data", None) == ROOT
    assert not (tmp_path / "data").exists()
    # Another --data-dir: the root config with its storage moved under that dir.
    other = tmp_path / "elsewhere"
    home = dagster_home(other, None)
    assert home == other / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_ref().storage_data.config_dict == {"base_dir": str(home.resolve())}
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.tag_concurrency_limits[0]["key"] == "feedback/deployment"
    assert (home / "history" / "runs.db").is_file()
    # An empty DAGSTER_HOME (as bench_demo sets) gets the root config with its storage there.
    empty = tmp_path / "empty_home"
    assert dagster_home(other, str(empty)) == empty
    with dg.DagsterInstance.from_config(str(empty)) as instance:
        assert instance.get_ref().storage_data.config_dict == {"base_dir": str(empty.resolve())}
    # A home that already has its own config (e.g. deploy/postgres) is left alone.
    pg_home = tmp_path / "pg"
    pg_home.mkdir()
    (pg_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert dagster_home(other, str(pg_home)) == pg_home
    assert (pg_home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


@pytest.mark.slow
def test_dg_check_defs_in_a_fresh_clone(fresh_clone: Path) -> None:
    dg_cli = Path(sys.executable).parent / "dg"
    proc = subprocess.run(
        [str(dg_cli), "check", "defs"],
        cwd=fresh_clone,
        env=_clean_env(fresh_clone),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_plain_dagster_dev_in_a_fresh_clone_shows_the_demo(fresh_clone: Path) -> None:
    env = _clean_env(fresh_clone)
    demo = [sys.executable, "-m", "feedback_assets.demo", "--days", "2", "--events-per-day", "30"]
    done = subprocess.run(
        demo, cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    port = _free_port()
    log = fresh_clone / "dev.log"
    proc = _start_dev([], fresh_clone, env, port, log)
    try:
        _wait_for_server(port, proc, time.time() + 90)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=10) as resp:
            assert json.loads(resp.read())["dagster_version"] == dg.__version__
        runs = _graphql(port, DEMO_RUNS_QUERY)["runsOrError"]["results"]
        assert {r["status"] for r in runs} == {"SUCCESS"}, log.read_text()[-4000:]
        assert len(runs) >= 2  # one per demo day at least
    finally:
        _stop(proc)
    assert not list(fresh_clone.glob(".tmp_dagster_home_*"))  # dagster dev cleaned up
