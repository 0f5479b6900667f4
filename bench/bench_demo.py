"""The whole demo (`make demo`) as a benchmark: wall time, events/s through the loop, peak RSS.

Runs `python -m feedback_assets.demo` in a fresh process on a scratch data dir, so the figures
cover generation, SDK ingest, every partition of feedback_loop_job, the sensors, the schedule and
the retraining runs; the demo's own stage timings (ingest, loop, triggers) are shown beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import print_table


def run_demo(days: int, events_per_day: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        env = {
            **os.environ,
            "FEEDBACK_DATA_DIR": str(Path(tmp) / "data"),
            "FEEDBACK_EXPORT_ROOT": str(Path(tmp) / "exports"),
            "DAGSTER_HOME": str(Path(tmp) / "data" / "dagster_home"),
        }
        env.pop("FEEDBACK_STORE_URL", None)
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "feedback_assets.demo",
                "--data-dir",
                str(Path(tmp) / "data"),
                "--days",
                str(days),
                "--events-per-day",
                str(events_per_day),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    events = int(re.search(r"events_stored\s+(\d+)", proc.stdout).group(1))  # type: ignore[union-attr]
    stages = dict(re.findall(r"(\w+_s) ([0-9.]+)s", proc.stdout))
    return {
        "days": days,
        "events_per_day": events_per_day,
        "events": events,
        "wall_s": round(wall, 1),
        "events_per_s": round(events / wall, 1),
        **{k: float(v) for k, v in stages.items()},
        # Peak RSS of the largest child (the demo process); Linux reports KiB.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def main(quick: bool = False) -> None:
    rows = [run_demo(3, 100)] if quick else [run_demo(14, 400)]
    print_table("make demo: the whole loop (target < 180 s on 2 cores)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
