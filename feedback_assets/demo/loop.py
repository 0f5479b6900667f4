"""The demo's steps, each through the product's own entry points (SDK, Dagster jobs, sensors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from feedback_assets.client import FeedbackClient, Telemetry
from feedback_assets.defs.partitions import DEPLOYMENT, loop_key
from feedback_assets.demo.traffic import TrafficConfig, generate_traffic
from feedback_assets.store.references import partition_keys_between

SENSORS = (
    "drift_retraining_sensor",
    "quality_drop_retraining_sensor",
    "data_count_retraining_sensor",
)


@dataclass
class DemoResult:
    config: TrafficConfig
    ingest: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    loop_runs: dict[str, bool] = field(default_factory=dict)
    retraining_runs: list[dict[str, Any]] = field(default_factory=list)
    skip_reasons: dict[str, str] = field(default_factory=dict)
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


def run_loop(seed: int = 7, events_per_day: int = 400, days: int = 14) -> DemoResult:
    import time

    from feedback_assets.definitions import defs

    config = TrafficConfig(seed=seed, events_per_day=events_per_day, days=days)
    result = DemoResult(config)
    t0 = time.perf_counter()
    result.ingest = ingest(config)
    result.timings["ingest_s"] = time.perf_counter() - t0

    definitions = defs()
    instance = dg.DagsterInstance.get()
    loop_job = definitions.resolve_job_def("feedback_loop_job")
    from feedback_assets.resources.feedback_store import FeedbackStoreResource

    store = FeedbackStoreResource().store()
    lo, hi = store.time_range()
    keys = partition_keys_between(lo, None if hi is None else hi + 1)
    t0 = time.perf_counter()
    deployments = store.deployments()
    instance.add_dynamic_partitions(DEPLOYMENT, deployments)
    for key in keys:
        for deployment in deployments:
            run = loop_job.execute_in_process(
                partition_key=loop_key(key, deployment), instance=instance, raise_on_error=False
            )
            result.loop_runs[f"{key}|{deployment}"] = run.success
    result.partitions = keys
    result.timings["loop_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    resources = definitions.resources
    retrain = definitions.resolve_job_def("retraining_job")
    requests: list[tuple[str, dg.RunRequest]] = []
    for name in SENSORS:
        sensor = definitions.resolve_sensor_def(name)
        with dg.build_sensor_context(
            instance=instance, resources=resources, sensor_name=name
        ) as ctx:
            out = sensor(ctx)
        requests += [(name, r) for r in _requests(out)]
        if not _requests(out):
            result.skip_reasons[name] = _skip(out)
        # Launch what this sensor asked for before the next one looks (in-flight and cooldown).
        _execute(retrain, instance, requests, result)
        requests.clear()
    schedule = definitions.resolve_schedule_def("scheduled_retraining")
    with dg.build_schedule_context(
        instance=instance, resources=resources, scheduled_execution_time=datetime.now(UTC)
    ) as ctx:
        out = schedule(ctx)
    scheduled = _requests(out)
    if not scheduled:
        result.skip_reasons["scheduled_retraining"] = _skip(out)
    _execute(retrain, instance, [("scheduled_retraining", r) for r in scheduled], result)
    result.timings["triggers_s"] = time.perf_counter() - t0
    return result


def _execute(
    job: Any,
    instance: dg.DagsterInstance,
    requests: list[tuple[str, dg.RunRequest]],
    result: DemoResult,
) -> None:
    for source, request in requests:
        run = job.execute_in_process(
            run_config=request.run_config,
            partition_key=request.partition_key,
            instance=instance,
            tags=request.tags,
            raise_on_error=False,
        )
        result.retraining_runs.append(
            {
                "source": source,
                "run_id": run.run_id,
                "success": run.success,
                "tags": dict(request.tags),
            }
        )


def _requests(out: Any) -> list[dg.RunRequest]:
    if isinstance(out, dg.SensorResult):
        return list(out.run_requests or [])
    if isinstance(out, list):
        return [r for r in out if isinstance(r, dg.RunRequest)]
    return [out] if isinstance(out, dg.RunRequest) else []


def _skip(out: Any) -> str:
    if isinstance(out, dg.SkipReason):
        return out.skip_message or ""
    if isinstance(out, dg.SensorResult) and out.skip_reason:
        return out.skip_reason.skip_message or ""
    return ""
