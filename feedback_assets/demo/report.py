"""The demo's closing summary: the store's numbers per deployment, and the ticks behind each run."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from feedback_assets.demo.daemon import TickRecord
from feedback_assets.demo.loop import LOOP_JOB, DemoResult
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.model_versions import model_history

REASON_CHARS = 160
# A tick's skip reason joins "<deployment>: <reason>" parts with "; " (a reason may hold "; ").
DEPLOYMENT_PART = re.compile(r"; (?=[\w.-]+: )")


def _line(label: str, value: Any) -> None:
    print(f"  {label:<28} {value}")


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def print_summary(result: DemoResult, wall_s: float) -> None:
    store = FeedbackStoreResource().store()
    cfg = result.config
    print("\n=== feedback-loop demo ===")
    print(
        f"traffic: {cfg.days} days x {len(cfg.deployments)} deployments, seed {cfg.seed}; "
        f"{cfg.drift_deployment} drifts from day {cfg.drift_day}"
    )
    print("\ningestion (FeedbackClient):")
    for key, value in result.ingest.items():
        _line(key, value)
    ok = sum(result.loop_runs.values())
    days = result.partitions
    print(
        f"\n{LOOP_JOB}: {ok}/{len(result.loop_runs)} deployment-day runs succeeded "
        f"({days[0] if days else '-'} .. {days[-1] if days else '-'}), "
        f"backfill {result.backfill_id} {result.backfill_status}"
    )
    for deployment in store.deployments():
        print(f"\n[{deployment}]")
        _print_deployment(store, deployment, result)
    _print_ticks(result.ticks)
    if result.schedules:
        crons = ", ".join(f"{name} ({cron})" for name, cron in sorted(result.schedules.items()))
        print(f"\nschedules tick at their cron times under `make dev` (UTC): {crons}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    print(f"\nwall time {wall_s:.1f}s ({timings})")
    print("See it in the UI: make dev  (http://127.0.0.1:3000)")


def _print_deployment(store: FeedbackStore, dep: str, result: DemoResult) -> None:
    quality = store.read_table("quality_scores", deployment_id=dep)
    _line(
        "quality mean (all days)",
        f"{quality['score'].mean():.3f} over {len(quality)} events" if len(quality) else "-",
    )
    history = store.read_table(
        "drift_history", source="asset", deployment_id=dep, order_by=["window_end_us"]
    )
    drifted = history[history["drifted"]] if len(history) else history
    if len(drifted):
        day = drifted["partition_key"].iloc[0]
        index = result.partitions.index(day) + 1 if day in result.partitions else "?"
        _line(
            "drift first detected",
            f"{day} (day {index}); drifted days: {len(drifted)}/{len(history)}",
        )
        _line("top reasons", "; ".join(json.loads(drifted["reasons"].iloc[0])[:3]))
    else:
        _line("drift first detected", f"never ({len(history)} days checked)")
    curated = store.read_table("curated_examples", deployment_id=dep)
    by_source = curated["curation_source"].value_counts().sort_index() if len(curated) else None
    _line(
        "curated examples",
        {str(k): int(v) for k, v in by_source.items()} if by_source is not None else 0,
    )
    batches = store.read_table("export_batches", deployment_id=dep, order_by=["created_us"])
    if len(batches):
        _line(
            "export batches",
            f"{len(batches)} under {batches['root'].iloc[-1]} "
            f"(latest: {batches['export_batch_id'].iloc[-1]})",
        )
    runs = store.read_table("retraining_runs", deployment_id=dep, order_by=["started_us"])
    _print_retraining(runs, result)
    _print_models(model_history(store, dep))


def _print_models(history: list[dict[str, Any]]) -> None:
    """The gate's decisions: each retrained candidate, promoted or rejected, and why."""
    for h in history:
        if not h["retraining_run_id"]:
            continue
        ev = h["eval"]
        score = (
            f" ({ev.get('wins', 0)} wins / {ev.get('ties', 0)} ties / {ev.get('losses', 0)} "
            f"losses on {ev.get('prompts', 0)} eval prompts vs {ev.get('current', '-')})"
            if ev.get("prompts")
            else ""
        )
        _line(f"model {h['model_version_id']}", f"{h['status']}{score}")
        for reason in h["reasons"][:2]:
            print(f"      why: {reason}")


def _print_retraining(runs: pd.DataFrame, result: DemoResult) -> None:
    if not len(runs):
        _line("retraining", "none")
    for row in runs.to_dict("records"):
        version = row["new_model_version_id"]
        _line(
            f"retraining {row['run_id'][:8]}",
            f"{row['status']} triggers={json.loads(row['trigger_types'])} -> "
            f"{version if isinstance(version, str) else '-'}",
        )
        requested = result.retraining_runs.get(row["run_id"])
        if requested:
            print(
                f"      requested by {requested['sensor']} tick {requested['tick_id']} "
                f"at {_clock(requested['tick_time'])}"
            )
        if row["status"] == "failed":
            print(f"      error: {str(row['error'])[:300]}")
        for reason in json.loads(row["reasons"]):
            print(f"      reason: {reason}")


def _print_ticks(ticks: list[TickRecord]) -> None:
    print("\nsensor ticks (UI: Automation > a sensor > its tick history):")
    for t in ticks:
        head = f"  {_clock(t.timestamp)} {t.sensor:<32} tick {t.tick_id:<4} {t.status}"
        if t.run_ids:
            print(f"{head}: requested run(s) {', '.join(r[:8] for r in t.run_ids)}")
        elif t.added_partitions:
            print(f"{head}: added partitions {', '.join(t.added_partitions)}")
        elif t.error:
            print(f"{head}: {t.error[:REASON_CHARS]}")
        else:
            print(head)
        # A tick that only added partitions is "skipped" (no run) with a generic reason.
        shown = not t.run_ids and not t.added_partitions
        for reason in DEPLOYMENT_PART.split(t.skip_reason or "") if shown else []:
            if reason:
                print(f"      {reason[:REASON_CHARS]}")
