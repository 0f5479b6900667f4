"""Export scale: training_exports of one deployment-day, today's path beside another revision.

`python -m bench.bench_export_scale [--events 333000] [--store-dir DIR] [--baseline-ref main]
[--formats ...]`

`prepare` fills a SQLite store with one deployment's day (bench_scale's generator: ~1 KB texts)
and materializes raw_inferences -> sanitized_logs -> quality_scores -> curated_sets for it;
with --store-dir the prepared store is kept and reused by later runs of the same size. `export`
runs services.training_exports.export_partition (what the asset calls) in a fresh process and
reports seconds, events/s (day's events over export seconds) and peak RSS (VmHWM) beside the
baseline revision's (exported with git archive, run on a copy of the same store).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_scale import (
    DAY_US,
    ROOT,
    _as_sdk_stores,
    _day_frames,
    _export_ref,
    _status_kb,
)
from bench.common import print_table

DEPLOYMENT = "support-bot"
DAY = "2026-11-02"
RESULT = "BENCH_EXPORT_RESULT "
UPSTREAM = ("raw_inferences", "sanitized_logs", "quality_scores", "curated_sets")


def phase_prepare(url: str, events: int, home: str) -> dict[str, Any]:
    import dagster as dg

    from feedback_assets.definitions import defs
    from feedback_assets.defs.partitions import loop_key
    from feedback_assets.store import FeedbackStore

    store = FeedbackStore(url)
    day_us = int(datetime.fromisoformat(DAY).replace(tzinfo=UTC).timestamp() * 1e6)
    ev, sg = _day_frames(events, DEPLOYMENT, 0, day_us, DAY_US)
    store.insert_events(_as_sdk_stores(ev))
    store.insert_signals(sg)
    instance = dg.DagsterInstance.local_temp(tempdir=home)
    instance.add_dynamic_partitions("deployment", [DEPLOYMENT])
    t = time.perf_counter()
    result = (
        defs()
        .resolve_job_def("feedback_loop_job")
        .execute_in_process(
            partition_key=loop_key(DAY, DEPLOYMENT),
            instance=instance,  # resources come from FEEDBACK_STORE_URL, set by _run
            asset_selection=[dg.AssetKey(a) for a in UPSTREAM],
        )
    )
    curated = store.read_table("curated_examples", partition_key=DAY, deployment_id=DEPLOYMENT)
    with store.engine.connect() as conn:  # the file alone must hold the data: it is copied
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "prepared": result.success,
        "upstream_s": round(time.perf_counter() - t, 1),
        "curated": len(curated),
        "sft": int((curated["role"] == "sft").sum()),
    }


def phase_export(url: str, root: str, formats: list[str]) -> dict[str, Any]:
    from feedback_assets.services.training_exports import export_partition
    from feedback_assets.store import FeedbackStore

    store = FeedbackStore(url)
    rss0 = _status_kb("VmRSS")
    t = time.perf_counter()
    manifest, problems = export_partition(store, root, DAY, DEPLOYMENT, formats)
    seconds = time.perf_counter() - t
    counts = (manifest or {}).get("counts", {})
    return {
        "export_s": round(seconds, 2),
        "rss_before_mb": round(rss0 / 1024),
        "problems": len(problems),
        **{k: v for k, v in counts.items() if isinstance(v, int)},
    }


PHASES = {"prepare": phase_prepare, "export": phase_export}


def _run(phase: str, code_root: Path, **kwargs: Any) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code_root}{os.pathsep}{ROOT}"}
    if "url" in kwargs:
        env["FEEDBACK_STORE_URL"] = kwargs["url"]
    cmd = [sys.executable, "-m", "bench.bench_export_scale", "--phase", phase, json.dumps(kwargs)]
    # cwd = code_root: `-m` puts the cwd first on sys.path, before PYTHONPATH.
    proc = subprocess.run(cmd, env=env, cwd=code_root, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return dict(json.loads(line[len(RESULT) :]))
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}


def main(events: int, store_dir: str | None, baseline_ref: str | None, formats: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        keep = Path(store_dir or tmp)
        keep.mkdir(parents=True, exist_ok=True)
        db = keep / f"store_{events}.db"
        if not db.exists():
            prep = _run("prepare", ROOT, url=f"sqlite:///{db}.part", events=events, home=tmp)
            print(RESULT + json.dumps(prep), flush=True)
            if not prep.get("prepared"):
                raise SystemExit(f"prepare failed: {prep}")
            os.replace(f"{db}.part", db)
        cases = [("chunked", ROOT)]
        if baseline_ref:
            (Path(tmp) / "base").mkdir()
            cases.insert(0, (baseline_ref, _export_ref(baseline_ref, Path(tmp) / "base")))
        rows = []
        for label, code in cases:
            copy = Path(tmp) / f"{label.replace('/', '_')}.db"
            shutil.copyfile(db, copy)  # each path exports from the same, untouched store
            row = {"path": label, "events": events}
            row |= _run(
                "export", code, url=f"sqlite:///{copy}", root=f"{tmp}/x-{label}", formats=formats
            )
            if "export_s" in row:
                row["events_per_s"] = round(events / max(row["export_s"], 1e-9))
            rows.append(row)
            print(RESULT + json.dumps(row), flush=True)
        print_table(f"training_exports, one deployment-day of {events} events", rows)


def _child_main(phase: str, kwargs_json: str) -> None:
    result = PHASES[phase](**json.loads(kwargs_json))
    result["peak_rss_mb"] = round(_status_kb("VmHWM") / 1024)
    print(RESULT + json.dumps(result), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        Path(json.loads(sys.argv[3]).get("home", tempfile.gettempdir())).mkdir(exist_ok=True)
        _child_main(sys.argv[2], sys.argv[3])
        sys.exit(0)
    from feedback_assets.domain.export.registry import format_names

    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=333_000)
    parser.add_argument("--store-dir", help="keep the prepared store here and reuse it")
    parser.add_argument("--baseline-ref", help="git revision of the path to compare, e.g. main")
    parser.add_argument("--formats", nargs="+", default=list(format_names()))
    a = parser.parse_args()
    main(a.events, a.store_dir, a.baseline_ref, a.formats)
