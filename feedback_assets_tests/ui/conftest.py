"""A small demo recorded into a temp instance, plain `dagster dev` serving it, and a browser.

The browser is Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven by Playwright
from pip; nothing downloads a browser. Screenshots land in the demo's temp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from feedback_assets_tests.defs.test_dagster_dev import (
    _free_port,
    _start_dev,
    _stop,
    _wait_for_server,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DAYS, EVENTS_PER_DAY = 3, 60
DEPLOYMENTS = 3
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless=new",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
]


@dataclass(frozen=True)
class Demo:
    tmp: Path
    data: Path
    home: Path
    stdout: str
    stderr: str


def _env() -> dict[str, str]:
    """A user's environment: no Dagster home and no project settings of the test session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "FEEDBACK_"))}
    env.update(PYTHONPATH=str(ROOT), DAGSTER_DISABLE_TELEMETRY="1")
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    tmp = tmp_path_factory.mktemp("ui")
    env = _env()
    # Small traffic: a low data-count threshold (10, the least a trainer accepts) lets a sensor
    # request retraining, and a short sensor interval keeps the second tick from waiting.
    env.update(FEEDBACK_DATA_COUNT_THRESHOLD="10", FEEDBACK_SENSOR_INTERVAL_SECONDS="5")
    args = ["--data-dir", str(tmp / "data"), "--days", str(DAYS)]
    args += ["--events-per-day", str(EVENTS_PER_DAY)]
    done = subprocess.run(
        [sys.executable, "-m", "feedback_assets.demo", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    data = tmp / "data"
    return Demo(tmp, data, data / "dagster_home", done.stdout, done.stderr)


@pytest.fixture(scope="module")
def instance(demo: Demo) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(demo.home)) as inst:
        yield inst


@pytest.fixture(scope="module")
def dev_port(demo: Demo) -> Iterator[int]:
    """Plain `dagster dev` in the project root (its pyproject names the code location)."""
    env = _env()
    env.update(
        DAGSTER_HOME=str(demo.home),
        FEEDBACK_DATA_DIR=str(demo.data),
        FEEDBACK_EXPORT_ROOT=str(demo.tmp / "exports"),
    )
    port = _free_port()
    proc = _start_dev([], ROOT, env, port, demo.tmp / "dev.log")
    try:
        _wait_for_server(port, proc, time.time() + 120)
        yield port
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser(dev_port: int) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
