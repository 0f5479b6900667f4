"""Scale: one realistic day of N events through the whole feedback_loop_job, per asset.

`python -m bench.bench_scale [--events 200000 1000000] [--store sqlite postgresql]
[--baseline-ref REF --baseline-events 200000]`

Each size runs in fresh processes (so peaks are honest): `ingest` generates the day (3
deployments, ~1 KB texts, demo text model) plus an hour of live traffic ending now and bulk-inserts
it through the store; `loop` materializes feedback_loop_job for that day for every deployment with
Dagster's own execution (`execute_in_process` on a local instance), timing each step from the
run's event log and sampling RSS (VmRSS) to attribute the peak to a step; `ticks` times every
sensor and the live_drift schedule, plus one live_drift run per deployment (the work the drift
sensor reads). The baseline is another git revision (today's path) exported to a temp dir and run
with the same phases at the size it can handle.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import print_table

DEPLOYMENTS = ("support-bot", "code-assistant", "json-extractor")
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
RESULT = "BENCH_SCALE_RESULT "
ROOT = Path(__file__).resolve().parent.parent


# -- phases (run in a child process) ------------------------------------------------------------
def _day_frames(n: int, deployment_id: str, seed: int, start_us: int, span_us: int) -> Any:
    """n events of one deployment spread over [start_us, start_us + span_us), texts ~1 KB."""
    import numpy as np
    import pandas as pd

    from feedback_assets.demo.traffic import generate_stream

    events, signals = generate_stream(n, seed=seed, deployment_id=deployment_id)
    t0 = events["timestamp"].min()
    scale = span_us / max(n * 1_000_000, 1)  # the generator spaces events ~1 s apart

    def remap(ts: pd.Series) -> pd.Series:
        us = ((ts - t0).dt.total_seconds().to_numpy() * 1e6 * scale).astype(np.int64)
        return pd.to_datetime(start_us + np.minimum(us, span_us - 1), unit="us", utc=True)

    events["timestamp"] = remap(events["timestamp"])
    signals["timestamp"] = remap(signals["timestamp"])
    resp = events["response"].to_numpy(dtype=object)
    # The demo's answers are ~350 B; three of them make the ~1 KB texts production sends.
    events["response"] = resp + " " + np.roll(resp, 1) + " " + np.roll(resp, 2)
    return events, signals


def _as_sdk_stores(events: Any) -> Any:
    """Texts redacted at source and stamped with the pattern set, as FeedbackClient stores them
    (a revision without pii_version gets the redacted texts alone)."""
    import pyarrow as pa

    from feedback_assets.domain.pii.sanitize import sanitize_column
    from feedback_assets.domain.pii.sanitize_json import sanitize_json_column

    for col in ("prompt", "response"):
        events[col] = sanitize_column(pa.array(events[col], pa.large_string()))[0].to_pylist()
    meta = pa.array(events["metadata"], pa.large_string())
    events["metadata"] = sanitize_json_column(meta)[0].to_pylist()
    try:
        from feedback_assets.domain.pii.pii_version import pattern_set_version
    except ImportError:
        return events
    return events.assign(pii_version=pattern_set_version())


def phase_ingest(url: str, events: int, day: str) -> dict[str, Any]:
    from feedback_assets.store import FeedbackStore

    store = FeedbackStore(url)
    day_us = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1e6)
    now_us = int(time.time() * 1e6)
    per_dep, live_per_dep = events // len(DEPLOYMENTS), max(events // 24 // len(DEPLOYMENTS), 1)
    stored, seconds = 0, 0.0
    for i, dep in enumerate(DEPLOYMENTS):
        for n, start, span, seed in (
            (per_dep, day_us, DAY_US, i),
            (live_per_dep, now_us - HOUR_US, HOUR_US, 100 + i),
        ):
            ev, sg = _day_frames(n, dep, seed, start, span)
            ev = _as_sdk_stores(ev)
            t = time.perf_counter()
            stored += store.insert_events(ev).inserted
            store.insert_signals(sg)
            seconds += time.perf_counter() - t
    return {"events_stored": stored, "ingest_s": round(seconds, 1)}


class RssSampler(threading.Thread):
    """VmRSS every `period` s, so a step's peak can be read off its [start, end] interval."""

    def __init__(self, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.period, self.samples, self.halt = period, [], threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.time(), _status_kb("VmRSS")))
            time.sleep(self.period)

    def stop(self) -> list[tuple[float, int]]:
        self.halt.set()
        self.join()
        return self.samples


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _steps(instance: Any, run_id: str) -> dict[str, tuple[float, float]]:
    """step key -> (start, end) wall times from the run's event log."""
    import dagster as dg

    spans: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None or ev.step_key is None:
            continue
        if ev.event_type in (dg.DagsterEventType.STEP_START,):
            spans.setdefault(ev.step_key, [entry.timestamp, entry.timestamp])[0] = entry.timestamp
        elif ev.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            spans.setdefault(ev.step_key, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
    return {k: (v[0], v[1]) for k, v in spans.items()}


def _instance(home: str) -> Any:
    import dagster as dg

    Path(home).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=home)


def phase_loop(home: str, day: str) -> dict[str, Any]:
    from feedback_assets.definitions import defs
    from feedback_assets.defs.partitions import loop_key
    from feedback_assets.defs.resources import build_resources

    instance = _instance(home)
    instance.add_dynamic_partitions("deployment", list(DEPLOYMENTS))
    job = defs().resolve_job_def("feedback_loop_job")
    resources = build_resources()
    sampler = RssSampler()
    sampler.start()
    seconds: dict[str, float] = {}
    peaks: dict[str, int] = {}
    start = time.perf_counter()
    failed = []
    for dep in DEPLOYMENTS:
        result = job.execute_in_process(
            partition_key=loop_key(day, dep),
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        if not result.success:
            failed.append(dep)
        for step, (a, b) in _steps(instance, result.run_id).items():
            seconds[step] = seconds.get(step, 0.0) + (b - a)
            inside = [kb for t, kb in sampler.samples if a <= t <= b]
            peaks[step] = max(peaks.get(step, 0), max(inside, default=0))
    total = time.perf_counter() - start
    sampler.stop()
    out: dict[str, Any] = {"loop_s": round(total, 1), "failed": ",".join(failed) or "-"}
    out.update({f"{k}_s": round(v, 1) for k, v in seconds.items()})
    out.update({f"{k}_rss_mb": round(v / 1024) for k, v in peaks.items()})  # per step: no "peak"
    return out


def phase_ticks(home: str) -> dict[str, Any]:
    import dagster as dg

    from feedback_assets.definitions import defs
    from feedback_assets.defs.resources import build_resources

    instance, d, resources = _instance(home), defs(), build_resources()
    out: dict[str, Any] = {}
    live = d.resolve_job_def("live_drift_job")
    t = time.perf_counter()
    for dep in DEPLOYMENTS:
        live.execute_in_process(
            partition_key=dep, instance=instance, resources=resources, raise_on_error=False
        )
    out["live_drift_3_runs_s"] = round(time.perf_counter() - t, 2)
    for sensor in d.sensors:
        ctx = dg.build_sensor_context(instance=instance, resources=resources, definitions=d)
        t = time.perf_counter()
        sensor(ctx)
        out[f"tick_{sensor.name}_s"] = round(time.perf_counter() - t, 3)
    schedule = d.resolve_schedule_def("live_drift_schedule")
    ctx = dg.build_schedule_context(
        instance=instance,
        resources=resources,
        scheduled_execution_time=datetime.now(UTC),
        repository_def=d.get_repository_def(),
    )
    t = time.perf_counter()
    schedule(ctx)
    out["tick_live_drift_schedule_s"] = round(time.perf_counter() - t, 3)
    return out


PHASES = {"ingest": phase_ingest, "loop": phase_loop, "ticks": phase_ticks}


def _child_main(phase: str, kwargs_json: str) -> None:
    result = PHASES[phase](**json.loads(kwargs_json))
    result[f"{phase}_peak_rss_mb"] = round(_status_kb("VmHWM") / 1024)
    print(RESULT + json.dumps(result), flush=True)


# -- driver -------------------------------------------------------------------------------------
def _run_phase(
    phase: str, env: dict[str, str], code_root: Path, timeout: float, **kwargs: Any
) -> dict[str, Any]:
    # The bench module comes from this tree; feedback_assets from code_root. `python -m` puts the
    # working directory first on the path, so the child runs in code_root.
    env = {**env, "PYTHONPATH": f"{code_root}{os.pathsep}{ROOT}"}
    cmd = [sys.executable, "-m", "bench.bench_scale", "--phase", phase, json.dumps(kwargs)]
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=code_root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {f"{phase}_error": f"timeout after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    return {f"{phase}_error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def run_case(
    events: int, store: str, code_root: Path, label: str, pg: Any, timeout: float
) -> dict[str, Any]:
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        db = f"scale_{os.getpid()}_{events}_{label}".replace("-", "_")
        url = pg.create_database(db) if store == "postgresql" else f"sqlite:///{tmp}/store.db"
        env = {
            **os.environ,
            "FEEDBACK_STORE_URL": url,
            "FEEDBACK_DATA_DIR": f"{tmp}/data",
            "FEEDBACK_EXPORT_ROOT": f"{tmp}/exports",
        }
        row: dict[str, Any] = {"path": label, "store": store, "events": events}
        try:
            row |= _run_phase("ingest", env, code_root, timeout, url=url, events=events, day=day)
            row |= _run_phase("loop", env, code_root, timeout, home=f"{tmp}/dagster", day=day)
            row |= _run_phase("ticks", env, code_root, timeout, home=f"{tmp}/dagster")
        finally:
            if store == "postgresql":
                pg.drop_database(db)
    return row


def _export_ref(ref: str, dest: Path) -> Path:
    """`git archive` of a revision: today's path, importable beside this bench (with its
    pyproject.toml, where Dagster finds the code location)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "feedback_assets", "pyproject.toml"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def main(
    quick: bool = False,
    events: list[int] | None = None,
    stores: list[str] | None = None,
    baseline_ref: str | None = None,
    baseline_events: int = 200_000,
    timeout: float = 1800,
) -> None:
    sizes = events or ([20_000] if quick else [200_000, 1_000_000])
    stores = stores or ["sqlite"]
    pg = None
    if "postgresql" in stores:
        os.environ["PATH"] += os.pathsep + "/usr/lib/postgresql/15/bin"
        from feedback_assets_tests.pg_server import start_postgres

        pg = start_postgres(durable=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-base-") as base:  # baseline code
            for store in stores:
                if baseline_ref:
                    code = _export_ref(baseline_ref, Path(base))
                    rows.append(run_case(baseline_events, store, code, baseline_ref, pg, timeout))
                    print(RESULT + json.dumps(rows[-1]), flush=True)
                for n in sizes:
                    rows.append(run_case(n, store, ROOT, "chunked", pg, timeout))
                    print(RESULT + json.dumps(rows[-1]), flush=True)  # before the long ones
    finally:
        if pg is not None:
            pg.destroy()
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    """A summary per case, then per-asset seconds and peaks, then tick times, cases side by side."""
    summary = []
    for r in rows:
        ticks = [v for k, v in r.items() if k.startswith("tick_")]
        keep = ("path", "store", "events", "ingest_s", "loop_s", "loop_peak_rss_mb", "failed")
        summary.append(
            {
                **{k: r.get(k) for k in keep},
                "live_drift_3_runs_s": r.get("live_drift_3_runs_s"),
                "slowest_tick_s": max(ticks, default=None),
                **{k: v for k, v in r.items() if k.endswith("_error")},
            }
        )
    print_table("feedback_loop_job, one day, 3 deployments (target 1M: <= 300 s, <= 2 GB)", summary)
    keys = dict.fromkeys(k for r in rows for k in r)
    steps = [k.removesuffix("_rss_mb") for k in keys if k.endswith("_rss_mb") and "peak" not in k]
    print_table(
        "per asset (3 deployments): seconds summed, peak RSS MB while it ran",
        [
            {
                "asset": step,
                **{f"{_case(r)} s": r.get(f"{step}_s") for r in rows},
                **{f"{_case(r)} MB": r.get(f"{step}_rss_mb") for r in rows},
            }
            for step in steps
        ],
    )
    ticks = list(dict.fromkeys(k for r in rows for k in r if k.startswith("tick_")))
    print_table(
        "tick seconds with an hour of live traffic (target <= 1 s)",
        [{"tick": t[5:-2], **{_case(r): r.get(t) for r in rows}} for t in ticks],
    )


def _case(row: dict[str, Any]) -> str:
    return f"{row['path']} {row['store']} {row['events'] // 1000}k"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        _child_main(sys.argv[2], sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, nargs="+")
    parser.add_argument("--store", nargs="+", choices=["sqlite", "postgresql"])
    parser.add_argument("--baseline-ref", help="git revision of today's path, e.g. main")
    parser.add_argument("--baseline-events", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per phase")
    parser.add_argument("--report", nargs="+", help="only print the tables of these outputs' rows")
    a = parser.parse_args()
    if a.report:
        lines = [line for f in a.report for line in Path(f).read_text().splitlines()]
        report([json.loads(line[len(RESULT) :]) for line in lines if line.startswith(RESULT)])
        sys.exit(0)
    main(a.quick, a.events, a.store, a.baseline_ref, a.baseline_events, a.timeout)
