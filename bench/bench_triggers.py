"""Trigger ticks: one live_drift refresh per deployment, then each retraining sensor's tick.

The sensors read precomputed state only (drift history, live windows, stored scores, counts), so a
tick should stay well under a second at any traffic volume; the refresh does the work, off-tick.

    python -m bench.bench_triggers              # synthetic: 1 hour of traffic at 200k events/day
    python -m bench.bench_triggers --data-dir D # an existing demo data dir (make demo's layout)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from bench.common import print_table

SENSORS = (
    "drift_retraining_sensor",
    "quality_drop_retraining_sensor",
    "data_count_retraining_sensor",
)


def _synthetic(data_dir: Path, per_day: int) -> datetime:
    """A reference day and the last hour at `per_day` events/day, ingested only (no partitions)."""
    from feedback_assets.demo.traffic import generate_stream
    from feedback_assets.store import FeedbackStore

    store = FeedbackStore(f"sqlite:///{data_dir / 'feedback.db'}")
    now = datetime.now(UTC)
    hour = per_day // 24
    for seed, start, shift in (
        (1, now - timedelta(days=3), 0.0),
        (2, now - timedelta(hours=1), 0.3),
    ):
        n = hour if seed == 2 else min(per_day, 50_000)
        events, signals = generate_stream(n, seed=seed, deployment_id="bench-bot", start=start,
                                          topic_shift=shift)  # fmt: skip
        # Squeeze the stream (one event a second) into its hour or day.
        span = (events["timestamp"] - events["timestamp"].min()) * (3600 / max(n, 1))
        events["timestamp"] = start + span
        store.insert_events(events)
        store.insert_signals(signals.assign(timestamp=start))
    store.dispose()
    return now


def _latest_event(store_url: str) -> datetime:
    from feedback_assets.store import FeedbackStore

    _, latest = FeedbackStore(store_url).time_range()
    return datetime.fromtimestamp((latest or 0) / 1e6, UTC)


def measure(data_dir: Path, as_of: datetime, repeats: int = 5) -> list[dict[str, object]]:
    from feedback_assets.definitions import defs
    from feedback_assets.defs.resources import build_resources
    from feedback_assets.resources.feedback_store import FeedbackStoreResource

    definitions = defs()
    url = f"sqlite:///{data_dir / 'feedback.db'}"
    resources = {**build_resources(), "feedback_store": FeedbackStoreResource(url=url)}
    store = resources["feedback_store"].store()
    instance = dg.DagsterInstance.get()
    deployments = store.deployments()
    instance.add_dynamic_partitions("deployment", deployments)
    rows: list[dict[str, object]] = []
    refresh = definitions.resolve_job_def("live_drift_job")
    for deployment in deployments:
        t0 = time.perf_counter()
        result = refresh.execute_in_process(
            partition_key=deployment,
            instance=instance,
            resources=resources,
            run_config={"ops": {"live_drift": {"config": {"as_of": as_of.isoformat()}}}},
        )
        rows.append({"step": f"live_drift run [{deployment}]", "median_s": time.perf_counter() - t0,
                     "ok": result.success})  # fmt: skip
    for name in SENSORS:
        sensor = definitions.resolve_sensor_def(name)
        times = []
        for _ in range(repeats):
            with dg.build_sensor_context(instance=instance, resources=resources,
                                         sensor_name=name) as ctx:  # fmt: skip
                t0 = time.perf_counter()
                sensor(ctx)
                times.append(time.perf_counter() - t0)
        rows.append({"step": f"{name} tick ({len(deployments)} deployments)",
                     "median_s": statistics.median(times), "ok": True})  # fmt: skip
    return rows


def main(quick: bool = False) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_triggers")
    parser.add_argument("--data-dir", type=Path, help="an existing demo data dir")
    parser.add_argument("--events-per-day", type=int, default=200_000)
    args, _ = parser.parse_known_args()
    saved_home = os.environ.get("DAGSTER_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-triggers-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        if args.data_dir is None:
            as_of = _synthetic(data_dir, 20_000 if quick else args.events_per_day)
            title = f"trigger ticks, 1 hour at {20_000 if quick else args.events_per_day:,}/day"
        else:
            as_of = _latest_event(f"sqlite:///{data_dir / 'feedback.db'}")
            title = f"trigger ticks on {data_dir} (live window as of its latest event)"
        try:
            print_table(title, measure(data_dir, as_of))
        finally:  # `python -m bench` runs the next bench in this process
            os.environ.pop("DAGSTER_HOME")
            if saved_home is not None:
                os.environ["DAGSTER_HOME"] = saved_home


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
