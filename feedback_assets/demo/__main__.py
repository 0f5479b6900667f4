"""`make demo`: generate 14 days of traffic, ingest it, run the whole loop through Dagster.

Steps: seeded traffic -> FeedbackClient (validate, redact, spool, store) -> a sensor tick registers
the deployments -> a backfill of feedback_loop_job over every deployment-day -> a sensor tick
requests retraining_job runs -> summary. Sensors and backfill run through Dagster's own daemon
iterations (demo/daemon.py); each run executes in this process (demo/launcher.py).
Everything lands in the embedded store and the project's Dagster instance (the root dagster.yaml,
history in data/dagster_home), so `make dev` or plain `dagster dev` shows the same history.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from feedback_assets.settings import ENV_FILE

# The project's Dagster instance config; its storage paths are relative to the working directory.
ROOT_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


MARKER = ".feedback-demo"  # in every directory the demo created: the only ones it may delete
# Plain `dagster dev` (or `dg check defs`) in the project root keeps its history in
# data/dagster_home (the root dagster.yaml): the demo's own history place, so not someone else's.
DAGSTER_HISTORY = "dagster_home"


class DemoDirError(RuntimeError):
    """A directory the demo would wipe was not created by the demo."""


def _prepare(
    data_dir: Path, fresh: bool, days: int, export_root: Path | None = None, store_url: str = ""
) -> None:
    """Point the product at the demo's own directories (never the environment's store or export
    root, unless the flags say so), wiping only directories the demo created before."""
    exports = export_root or data_dir.parent / "exports"
    for name, path in (("--data-dir", data_dir), ("--export-root", exports)):
        _claim(name, path, fresh)
    os.environ["FEEDBACK_DATA_DIR"] = str(data_dir)
    os.environ["FEEDBACK_EXPORT_ROOT"] = str(exports)
    if store_url:
        os.environ["FEEDBACK_STORE_URL"] = store_url
    else:
        os.environ.pop("FEEDBACK_STORE_URL", None)  # the embedded store in the demo's data dir
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Partitions start where the demo's data starts (its last day is yesterday), and the
    # json-extractor deployment promises JSON; `dagster dev` reads the same file.
    first_day = datetime.now(UTC).date() - timedelta(days=days)
    (data_dir / ENV_FILE).write_text(
        f"FEEDBACK_PARTITION_START={first_day.isoformat()}\n"
        "FEEDBACK_EXPECTED_FORMATS=json-extractor=json\n"
        # The demo's gate asks for a significant improvement: a tie keeps the current model.
        "FEEDBACK_EVAL_ON_INCONCLUSIVE=reject\n"
        "FEEDBACK_DATA_COUNT_THRESHOLD=600\n"
    )
    os.environ["DAGSTER_HOME"] = str(dagster_home(data_dir, os.environ.get("DAGSTER_HOME")))


def _claim(flag: str, path: Path, fresh: bool) -> None:
    """Make `path` the demo's: wipe it when fresh and the demo made it; refuse anyone else's."""
    others = [p for p in path.iterdir() if p.name != DAGSTER_HISTORY] if path.exists() else []
    if path.exists() and not (path / MARKER).exists() and others:
        if fresh:
            raise DemoDirError(
                f"{flag}: {path} holds data the demo did not create; it is left untouched. "
                "Choose an empty or new directory, or pass --keep to add to it."
            )
        return
    if fresh and (path / MARKER).exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("created by `python -m feedback_assets.demo`; it may delete this\n")


def dagster_home(data_dir: Path, current: str | None) -> Path:
    """The Dagster home the demo records into, so that `make dev` shows the same history.

    A DAGSTER_HOME that already holds a dagster.yaml (e.g. deploy/postgres) is used as is. With
    the default --data-dir the home is the project root: its dagster.yaml keeps history in
    data/dagster_home, exactly where plain `dagster dev` in the root looks. Any other data dir
    (or an empty DAGSTER_HOME) gets a copy of the root config with its storage moved there.
    """
    if current and (Path(current) / "dagster.yaml").exists():
        return Path(current)
    config = yaml.safe_load(ROOT_DAGSTER_YAML.read_text())
    root_home = Path(config["storage"]["sqlite"]["base_dir"])
    home = Path(current) if current else data_dir / "dagster_home"
    if not current and home.resolve() == root_home.resolve():
        return ROOT_DAGSTER_YAML.parent
    home.mkdir(parents=True, exist_ok=True)
    _move_storage(config, root_home, home.resolve())
    header = f"# Written by the demo from {ROOT_DAGSTER_YAML}; edit that file instead.\n"
    (home / "dagster.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    return home


def _move_storage(node: object, root_home: Path, home: Path) -> None:
    """Point every `base_dir` under the root config's storage dir at `home` instead."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "base_dir":
                node[key] = str(home / Path(value).relative_to(root_home))
            else:
                _move_storage(value, root_home, home)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m feedback_assets.demo", description=__doc__)
    parser.add_argument("--data-dir", default="data", help="embedded store and Dagster home")
    parser.add_argument(
        "--export-root", default=None, help="export root (default: exports beside the data dir)"
    )
    parser.add_argument(
        "--store-url", default="", help="feedback store URL (default: SQLite in the data dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep earlier demo data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events-per-day", type=int, default=400)
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    export_root = Path(args.export_root).resolve() if args.export_root else None
    try:
        _prepare(
            Path(args.data_dir).resolve(),
            fresh=not args.keep,
            days=args.days,
            export_root=export_root,
            store_url=args.store_url,
        )
    except DemoDirError as exc:
        parser.exit(2, f"error: {exc}\n")
    # Imported after _prepare: the partitions are defined from the settings it wrote.
    from feedback_assets.demo.loop import run_loop
    from feedback_assets.demo.progress import Progress, quiet_console
    from feedback_assets.demo.report import print_summary

    with Progress() as progress, quiet_console():
        result = run_loop(
            Path(os.environ["DAGSTER_HOME"]),
            progress,
            seed=args.seed,
            events_per_day=args.events_per_day,
            days=args.days,
        )
    print_summary(result, time.perf_counter() - started)


if __name__ == "__main__":
    main()
