"""End to end: `dagster dev` (webserver + daemon) on a PostgreSQL instance and the demo data.

The drift sensor must launch a retraining_job run for the drifted deployment, and that run must
succeed, within 3 minutes; no drift-triggered run may start for a healthy deployment.
"""

from __future__ import annotations

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

from feedback_assets_tests.defs.conftest import DAYS, ingest, resources_for, run_loop_day
from feedback_assets_tests.pg_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
RUNS_QUERY = """
{ runsOrError(filter: {pipelineName: "retraining_job"}) {
    ... on Runs { results { runId status tags { key value } startTime endTime } } } }
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


@pytest.mark.slow
def test_dagster_dev_sensor_launches_retraining_for_drifted_deployment(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
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

    port = _free_port()
    started = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "dev.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: one signal stops webserver + daemon
    )
    try:
        _wait_for_server(port, proc, started + 90)
        repo = _graphql(port, REPO_QUERY)["repositoriesOrError"]["nodes"][0]
        assert {s["name"] for s in repo["sensors"]} == {
            "deployment_partitions_sensor",
            "drift_retraining_sensor",
            "quality_drop_retraining_sensor",
            "data_count_retraining_sensor",
        }
        assert all(s["sensorState"]["status"] == "RUNNING" for s in repo["sensors"])
        assert {s["name"] for s in repo["schedules"]} == {
            "daily_feedback_loop_schedule",
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
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode is not None
