"""`make demo`: generate 14 days of traffic, ingest it, run the whole loop through Dagster.

Steps: seeded traffic -> FeedbackClient (validate, redact, spool, store) -> every deployment-day
partition of feedback_loop_job -> the retraining sensors and schedule -> retraining_job runs ->
summary. Everything lands in the embedded store and a persistent Dagster instance
(data/dagster_home), so `make dev` shows the same history in the UI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedback_assets.settings import ENV_FILE


def _prepare(data_dir: Path, fresh: bool, days: int) -> None:
    os.environ.setdefault("FEEDBACK_DATA_DIR", str(data_dir))
    os.environ.setdefault("FEEDBACK_EXPORT_ROOT", str(data_dir.parent / "exports"))
    os.environ.setdefault("DAGSTER_HOME", str(data_dir / "dagster_home"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if fresh:
        for path in (data_dir, Path(os.environ["FEEDBACK_EXPORT_ROOT"])):
            shutil.rmtree(path, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    # Partitions start where the demo's data starts (its last day is yesterday), and the
    # json-extractor deployment promises JSON; `dagster dev` reads the same file.
    first_day = datetime.now(UTC).date() - timedelta(days=days)
    (data_dir / ENV_FILE).write_text(
        f"FEEDBACK_PARTITION_START={first_day.isoformat()}\n"
        "FEEDBACK_EXPECTED_FORMATS=json-extractor=json\n"
    )
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        # Dagster's SQLite default storage; no telemetry.
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m feedback_assets.demo", description=__doc__)
    parser.add_argument("--data-dir", default="data", help="embedded store and Dagster home")
    parser.add_argument("--keep", action="store_true", help="keep earlier demo data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events-per-day", type=int, default=400)
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    _prepare(Path(args.data_dir).resolve(), fresh=not args.keep, days=args.days)
    # Imported after _prepare: the partitions are defined from the settings it wrote.
    from feedback_assets.demo.loop import run_loop
    from feedback_assets.demo.report import print_summary

    result = run_loop(seed=args.seed, events_per_day=args.events_per_day, days=args.days)
    print_summary(result, time.perf_counter() - started)


if __name__ == "__main__":
    main()
