"""The demo's steps, each through the product's own entry points (SDK, Dagster's daemon loops).

1. The SDK logs the generated traffic.
2. A sensor tick: deployment_partitions_sensor registers each deployment as a partition; the
   retraining sensors look too and record why they skip (no partition materialized yet).
3. A backfill of feedback_loop_job over every deployment-day, as a user requests it in the UI.
4. A second sensor tick: the retraining sensors request retraining_job runs, which execute.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from feedback_assets.client import FeedbackClient, Telemetry
from feedback_assets.demo.daemon import DemoDaemon, TickRecord
from feedback_assets.demo.model_server_process import ModelServerProcess
from feedback_assets.demo.progress import Progress
from feedback_assets.demo.traffic import TrafficConfig, generate_traffic
from feedback_assets.settings import load_settings

LOOP_JOB = "feedback_loop_job"


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@dataclass
class DemoResult:
    config: TrafficConfig
    ingest: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)  # the days
    loop_runs: dict[str, bool] = field(default_factory=dict)  # partition key -> success
    backfill_id: str = ""
    backfill_status: str = ""
    ticks: list[TickRecord] = field(default_factory=list)  # this demo's ticks, oldest first
    retraining_runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by run id
    schedules: dict[str, str] = field(default_factory=dict)  # name -> cron
    timings: dict[str, float] = field(default_factory=dict)


def ingest(config: TrafficConfig) -> dict[str, int]:
    """Log the generated traffic through the SDK, as an app would."""
    events, signals = generate_traffic(config)
    telemetry = Telemetry()
    with FeedbackClient(raise_on_invalid=False, telemetry=telemetry, flush_interval=1.0) as client:
        client.log_inferences(events)
        for signal in signals:
            payload = dict(signal)
            client.record_signal(
                payload.pop("event_id", None), payload.pop("signal_type", None), **payload
            )
        client.flush(timeout=120)
    # After close: the delivery thread has stopped, so its last batch is counted.
    stats = dict(client.stats)
    return {
        "events_generated": len(events),
        "signals_generated": len(signals),
        "accepted": stats.get("accepted", 0),
        "events_stored": stats.get("events", 0),
        "signals_stored": stats.get("signals", 0),
        "dead_lettered": stats.get("dead_letters", 0),
        "redacted": sum(v for k, v in stats.items() if k.startswith("redacted.")),
        **{k: v for k, v in stats.items() if k.startswith("redacted.")},
    }


def run_loop(
    dagster_home: Path,
    progress: Progress,
    seed: int = 7,
    events_per_day: int = 400,
    days: int = 14,
) -> DemoResult:
    config = TrafficConfig(seed=seed, events_per_day=events_per_day, days=days)
    result = DemoResult(config)
    t0 = time.perf_counter()
    result.ingest = ingest(config)
    progress.stage(
        f"ingest: {result.ingest['events_stored']:,} events and "
        f"{result.ingest['signals_stored']:,} signals stored through the SDK"
    )
    result.timings["ingest_s"] = time.perf_counter() - t0
    settings = load_settings()
    # The tiny trained models and stand-ins of the logged versions, served as an OpenAI-compatible
    # endpoint for the evaluation gate while the loop runs (stopped when the demo ends).
    with (
        ModelServerProcess(
            settings.launcher["model_dir"], settings.store_url, traffic_table="sanitized_logs"
        ) as models,
        _env("FEEDBACK_EVAL_BASE_URL", models.base_url),
        DemoDaemon(dagster_home, progress) as daemon,
    ):
        result.schedules = {s.name: s.cron_schedule for s in daemon.repository().get_schedules()}
        t0 = time.perf_counter()
        _first_tick(daemon, progress, result)
        result.timings["sensors_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _backfill(daemon, progress, result)
        result.timings["loop_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ticks = daemon.tick_sensors(
            on_wait=lambda s: progress.stage(f"sensors: next tick in {s:.0f} s (their interval)")
        )
        result.ticks += ticks
        _collect_retraining(daemon.instance, ticks, result)
        progress.close()
        progress.stage(f"sensors: {_tick_line(ticks)}")
        result.timings["triggers_s"] = time.perf_counter() - t0
    return result


def _first_tick(daemon: DemoDaemon, progress: Progress, result: DemoResult) -> None:
    from feedback_assets.defs.partitions import DEPLOYMENT
    from feedback_assets.resources.feedback_store import FeedbackStoreResource

    ticks = daemon.tick_sensors()
    result.ticks += ticks
    progress.stage(f"sensors: {_tick_line(ticks)}")
    missing = set(FeedbackStoreResource().store().deployments()) - set(
        daemon.instance.get_dynamic_partitions(DEPLOYMENT)
    )
    if missing:
        raise RuntimeError(
            f"deployment_partitions_sensor did not register {sorted(missing)} as partitions; "
            "is it stopped in the UI (Automation)?"
        )


def _backfill(daemon: DemoDaemon, progress: Progress, result: DemoResult) -> None:
    from feedback_assets.defs.partitions import DEPLOYMENT, day_partitions, loop_key
    from feedback_assets.resources.feedback_store import FeedbackStoreResource
    from feedback_assets.store.references import partition_keys_between

    lo, hi = FeedbackStoreResource().store().time_range()
    valid = set(day_partitions.get_partition_keys())
    result.partitions = [
        d for d in partition_keys_between(lo, None if hi is None else hi + 1) if d in valid
    ]
    deployments = sorted(daemon.instance.get_dynamic_partitions(DEPLOYMENT))
    keys = [str(loop_key(day, dep)) for day in result.partitions for dep in deployments]
    progress.expect(LOOP_JOB, len(keys))
    backfill = daemon.backfill(LOOP_JOB, keys, title="demo history")
    progress.close()
    result.backfill_id, result.backfill_status = backfill.backfill_id, backfill.status.value
    runs = daemon.instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
    )
    for run in runs:
        result.loop_runs[run.tags.get("dagster/partition", run.run_id)] = run.is_success
    ok = sum(result.loop_runs.values())
    progress.stage(
        f"backfill {backfill.backfill_id}: {ok}/{len(keys)} deployment-day runs of {LOOP_JOB} "
        f"succeeded ({backfill.status.value})"
    )


def _collect_retraining(
    instance: dg.DagsterInstance, ticks: list[TickRecord], result: DemoResult
) -> None:
    for tick in ticks:
        for run_id in tick.run_ids:
            run = instance.get_run_by_id(run_id)
            if run is None:
                continue
            result.retraining_runs[run_id] = {
                "deployment": run.tags.get("dagster/partition", ""),
                "status": run.status.value,
                "sensor": tick.sensor,
                "tick_id": tick.tick_id,
                "tick_time": tick.timestamp,
            }


def _tick_line(ticks: list[TickRecord]) -> str:
    parts = []
    for t in ticks:
        if t.run_ids:
            parts.append(f"{t.sensor} requested {len(t.run_ids)} run(s)")
        elif t.added_partitions:
            parts.append(f"{t.sensor} added {len(t.added_partitions)} partition(s)")
        else:
            parts.append(f"{t.sensor} {t.status.lower()}")
    return "; ".join(parts) or "no sensor ticked (are they stopped in the UI?)"
