"""The demo's closing summary, read back from the feedback store (what a user can query too)."""

from __future__ import annotations

import json
from typing import Any

from feedback_assets.demo.loop import DemoResult
from feedback_assets.resources.feedback_store import FeedbackStoreResource


def _line(label: str, value: Any) -> None:
    print(f"  {label:<28} {value}")


def print_summary(result: DemoResult, wall_s: float) -> None:
    resource = FeedbackStoreResource()
    store = resource.store()
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
    print(
        f"\nfeedback_loop_job: {ok}/{len(result.loop_runs)} partitions succeeded "
        f"({result.partitions[0] if result.partitions else '-'} .. {result.partitions[-1] if result.partitions else '-'})"
    )
    quality = store.read_table("quality_scores")
    history = store.read_table("drift_history", source="asset", order_by=["window_end_us"])
    curated = store.read_table("curated_examples")
    batches = store.read_table("export_batches", order_by=["created_us"])
    runs = store.read_table("retraining_runs", order_by=["started_us"])
    for dep in store.deployments():
        print(f"\n[{dep}]")
        q = quality[quality["deployment_id"] == dep]
        _line(
            "quality mean (all days)",
            f"{q['score'].mean():.3f} over {len(q)} events" if len(q) else "-",
        )
        h = history[history["deployment_id"] == dep]
        drifted = h[h["drifted"]]
        if len(drifted):
            day = drifted["partition_key"].iloc[0]
            index = result.partitions.index(day) + 1 if day in result.partitions else "?"
            _line(
                "drift first detected",
                f"{day} (day {index}); drifted days: {len(drifted)}/{len(h)}",
            )
            _line("top reasons", "; ".join(json.loads(drifted["reasons"].iloc[0])[:3]))
        else:
            _line("drift first detected", f"never ({len(h)} days checked)")
        c = curated[curated["deployment_id"] == dep]
        by_source = c["curation_source"].value_counts().sort_index()
        _line("curated examples", {str(k): int(v) for k, v in by_source.items()} if len(c) else 0)
        b = batches[batches["deployment_id"] == dep]
        if len(b):
            _line(
                "export batches",
                f"{len(b)} under {b['root'].iloc[-1]} (latest: {b['export_batch_id'].iloc[-1]})",
            )
        r = runs[runs["deployment_id"] == dep]
        for row in r.to_dict("records"):
            version = row["new_model_version_id"]
            _line(
                f"retraining {row['run_id'][:8]}",
                f"{row['status']} triggers={json.loads(row['trigger_types'])} -> "
                f"{version if isinstance(version, str) else '-'}",
            )
            if row["status"] == "failed":
                print(f"      error: {str(row['error'])[:300]}")
            for reason in json.loads(row["reasons"]):
                print(f"      reason: {reason}")
        if not len(r):
            _line("retraining", "none")
    for name, reason in result.skip_reasons.items():
        print(f"\n{name}: skipped: {reason[:400]}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    print(f"\nwall time {wall_s:.1f}s ({timings})")
    print("See it in the UI: make dev  (http://127.0.0.1:3000)")
