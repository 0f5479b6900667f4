"""drift_reports at scale: one deployment-day read from stored features (reference cached) beside
today's raw-text path (both windows read with their texts, features rebuilt every run).

    python -m bench.bench_drift_scale [--events 333000]

`fill` (a child process) stores one day of N events of support-bot the way bench_scale's ingest
does (~1 KB texts) and materializes sanitized_logs and quality_scores (which now also writes
event_features). The reference is the deployment's first two days, so here it holds the same
day: the worst case for the old path, which reads the day's texts twice. Each path then runs in
its own process (honest peaks): `old`, `new` with a cold reference cache, `new` again (warm).
Reported: seconds and peak RSS (VmHWM) per process, and whether the verdicts agree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.bench_scale import DAY_US, RESULT, _as_sdk_stores, _day_frames, _status_kb
from bench.common import print_table

DEP = "support-bot"


def _start_us(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1e6)


def phase_fill(url: str, events: int, day: str) -> dict[str, Any]:
    from feedback_assets.resources.loop_settings import QualitySettings
    from feedback_assets.services.quality_scores import score_partition
    from feedback_assets.services.sanitized_logs import sanitize_partition
    from feedback_assets.store import FeedbackStore

    store, day_us = FeedbackStore(url), _start_us(day)
    ev, sg = _day_frames(events, DEP, 0, day_us, DAY_US)
    store.insert_events(_as_sdk_stores(ev))
    store.insert_signals(sg)
    del ev, sg
    t = time.perf_counter()
    sanitize_partition(store, day, DEP, (day_us, day_us + DAY_US))
    sanitize_s = time.perf_counter() - t
    t = time.perf_counter()
    score_partition(store, day, DEP, QualitySettings().config(DEP))
    return {"sanitize_s": round(sanitize_s, 1), "quality_s": round(time.perf_counter() - t, 1)}


def _times(wall: float, cpu: float) -> dict[str, float]:
    # CPU seconds beside wall: on a shared machine the wall time includes other jobs' turns.
    return {
        "seconds": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
    }


def _verdict(report: Any) -> dict[str, Any]:
    drifted = sorted(r.feature for r in report.results if r.drifted)
    return {"drifted": report.drifted, "severity": report.severity, "features": ",".join(drifted)}


def phase_old(url: str, day: str, dep: str = DEP) -> dict[str, Any]:
    from feedback_assets.domain.drift.drift_reports import drift_report
    from feedback_assets.resources.loop_settings import DriftSettings
    from feedback_assets.store import FeedbackStore
    from feedback_assets.store.references import ensure_reference
    from feedback_assets.store.windows import deployment_window, window_between

    store = FeedbackStore(url)
    settings = DriftSettings()
    t, cpu = time.perf_counter(), time.process_time()
    ref = ensure_reference(store, dep, settings.reference_days)
    assert ref is not None
    reference = window_between(store, dep, int(ref["start_us"]), int(ref["end_us"]))
    current = deployment_window(store, day, dep)
    report, _ = drift_report(reference, current, deployment_id=dep, config=settings.config())
    return {**_times(t, cpu), **_verdict(report)}


def phase_new(url: str, day: str, dep: str = DEP) -> dict[str, Any]:
    from feedback_assets.resources.loop_settings import DriftSettings
    from feedback_assets.services.drift_reports import drift_partition
    from feedback_assets.store import FeedbackStore

    store, day_us = FeedbackStore(url), _start_us(day)
    settings = DriftSettings()
    t, cpu = time.perf_counter(), time.process_time()
    drift = drift_partition(
        store,
        day=day,
        deployment_id=dep,
        window=(day_us, day_us + DAY_US),
        config=settings.config(),
        reference_days=settings.reference_days,
        embed=None,
        plot_path=None,
    )
    return {**_times(t, cpu), **_verdict(drift.report)}


def phase_demo(url: str) -> dict[str, Any]:
    """The demo's 14 days (support-bot drifts from day 10) through both paths, day by day: the
    days each path flags, per deployment."""
    from feedback_assets.demo.loop import ingest
    from feedback_assets.demo.traffic import TrafficConfig
    from feedback_assets.resources.loop_settings import QualitySettings

    config = TrafficConfig(end_date=datetime(2026, 11, 30, tzinfo=UTC).date())
    ingest(config)
    days = [
        (config.end_date - timedelta(days=config.days - 1 - i)).isoformat()  # type: ignore[operator]
        for i in range(config.days)
    ]
    quality = QualitySettings()
    flagged: dict[str, Any] = {}
    for dep in config.deployments:
        old, new = [], []
        for i, day in enumerate(days, start=1):
            _materialize(url, day, dep, quality.config(dep))
            if phase_old(url, day, dep)["drifted"]:
                old.append(i)
            if phase_new(url, day, dep)["drifted"]:
                new.append(i)
        flagged[f"{dep}_old_days"] = ",".join(map(str, old)) or "-"
        flagged[f"{dep}_new_days"] = ",".join(map(str, new)) or "-"
    return flagged


def _materialize(url: str, day: str, dep: str, quality: Any) -> None:
    from feedback_assets.services.quality_scores import score_partition
    from feedback_assets.services.sanitized_logs import sanitize_partition
    from feedback_assets.store import FeedbackStore

    store, start = FeedbackStore(url), _start_us(day)
    sanitize_partition(store, day, dep, (start, start + DAY_US))
    score_partition(store, day, dep, quality)


PHASES = {"fill": phase_fill, "old": phase_old, "new": phase_new, "demo": phase_demo}


def _run(phase: str, env: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_drift_scale", "--phase", phase, json.dumps(kwargs)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def main(events: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-drift-scale-") as tmp:
        url = f"sqlite:///{tmp}/store.db"
        env = {**os.environ, "FEEDBACK_STORE_URL": url, "FEEDBACK_DATA_DIR": f"{tmp}/data"}
        day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()  # fixed for all phases
        fill = _run("fill", env, url=url, events=events, day=day)
        print(f"fill {events} events: {fill}")
        rows = []
        for label, phase in (
            ("old (raw text)", "old"),
            ("new, cold cache", "new"),
            ("new, warm", "new"),
        ):
            rows.append({"path": label, **_run(phase, env, url=url, day=day)})
        print_table(f"drift_reports, one deployment-day of {events} events (SQLite)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("kwargs", nargs="?")
    parser.add_argument("--events", type=int, default=333_000)
    parser.add_argument("--demo", action="store_true", help="the demo's verdicts, both paths")
    args = parser.parse_args()
    if args.phase:
        result = PHASES[args.phase](**json.loads(args.kwargs))
        result["peak_rss_mb"] = round(_status_kb("VmHWM") / 1024)
        print(RESULT + json.dumps(result), flush=True)
    elif args.demo:
        with tempfile.TemporaryDirectory(prefix="bench-drift-demo-") as tmp:
            url = f"sqlite:///{tmp}/store.db"
            os.environ.update(FEEDBACK_STORE_URL=url, FEEDBACK_DATA_DIR=f"{tmp}/data")
            print_table("days flagged as drift (demo: support-bot from day 10)", [phase_demo(url)])
    else:
        main(args.events)
