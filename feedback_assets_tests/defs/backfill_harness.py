"""A real backfill on a PostgreSQL Dagster instance, driven as the daemon drives it.

The instance is deploy/postgres/dagster.yaml with its run queue narrowed to 2 concurrent runs:
Dagster's default (queued) run coordinator and its default run launcher, which starts each run
in its own process from the code location's gRPC server. The backfill is an asset backfill of
the loop's assets, as the UI requests one; its runs use the code location's default executor,
the multiprocess executor, with a forkserver so each step forks from preloaded imports.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import (
    FINISHED_STATUSES,
    DagsterRunStatus,
    RunRecord,
)
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

import feedback_assets
from feedback_assets.demo.daemon import LOCATION, MODULE

ROOT = Path(feedback_assets.__file__).parents[1]
PG_INSTANCE_CONFIG = ROOT / "deploy" / "postgres" / "dagster.yaml"
# Steps fork from a server that has already imported the heavy modules once per run.
PRELOAD = [
    "feedback_assets.definitions",
    "feedback_assets.defs.assets.curated_sets",
    "feedback_assets.defs.assets.drift_reports",
    "feedback_assets.defs.assets.training_exports",
]
RUN_CONFIG: dict[str, Any] = {
    "execution": {
        "config": {
            "multiprocess": {
                "max_concurrent": 2,
                "start_method": {"forkserver": {"preload_modules": PRELOAD}},
            }
        }
    }
}
# Between status changes the daemons iterate this often anyway (a safety net, not the pace).
FORCED_ITERATION_S = 5.0
log = logging.getLogger(__name__)


@contextmanager
def _dagster_internal_deprecations() -> Iterator[None]:
    """The daemon's own code in Dagster 1.13 warns about Dagster itself (asset backfills call the
    deprecated AssetSelection.sources(); multi-partition runs get `dagster/partition/<dim>` tags
    that its tag check calls non-compliant). The suite turns DeprecationWarning into errors:
    warnings attributed to Dagster's modules are let through here, the project's stay errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"dagster(\.|$)")
        yield


@dataclass(frozen=True)
class BackfillOutcome:
    backfill_id: str
    status: BulkActionStatus
    runs: list[RunRecord]


def write_instance_home(home: Path, max_concurrent_runs: int) -> Path:
    """deploy/postgres/dagster.yaml in a fresh DAGSTER_HOME, with its run limit changed only."""
    config = yaml.safe_load(PG_INSTANCE_CONFIG.read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    # Leaving the workspace waits for the code server to exit: it clears its finished runs
    # through the instance, so it must end before the test's PostgreSQL does.
    config["code_servers"] = {"wait_for_local_processes_on_shutdown": True}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


@contextmanager
def open_workspace(home: Path) -> Iterator[WorkspaceProcessContext]:
    """The instance of `home` and the project's code location, served as `dagster dev` does."""
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        target = ModuleTarget(MODULE, None, str(ROOT), LOCATION)
        with WorkspaceProcessContext(
            instance, target, code_server_log_level="WARNING"
        ) as workspace:
            yield workspace


def run_asset_backfill(
    workspace: WorkspaceProcessContext,
    assets: Sequence[str],
    partition_keys: Sequence[str],
    timeout_s: float = 1800,
) -> BackfillOutcome:
    """Request an asset backfill, then run the backfill and run-queue daemons until it ends."""
    with _dagster_internal_deprecations():
        backfill_id = _request(workspace, assets, partition_keys)
        return _drive(workspace, backfill_id, timeout_s)


def _request(
    workspace: WorkspaceProcessContext, assets: Sequence[str], partition_keys: Sequence[str]
) -> str:
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=workspace.create_request_context().asset_graph,
        partition_names=list(partition_keys),
        asset_selection=[dg.AssetKey(a) for a in assets],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=workspace.instance,
        all_partitions=False,
        title="concurrent backfill",
        description=None,
        run_config=RUN_CONFIG,
    )
    workspace.instance.add_backfill(backfill)
    return backfill.backfill_id


def _drive(
    workspace: WorkspaceProcessContext, backfill_id: str, timeout_s: float
) -> BackfillOutcome:
    """Both daemons' iterations, whenever one of the backfill's runs ended or was queued (only
    then has either something new to do: submit a deployment's next day, complete, launch the
    next queued run), and every few seconds regardless. An idle pair of iterations costs about
    a second of CPU, which the runs need on 2 cores."""
    instance = workspace.instance
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    ours = {"dagster/backfill": backfill_id}
    deadline = time.monotonic() + timeout_s
    seen: tuple[int, int] | None = None
    forced_at = 0.0
    while time.monotonic() < deadline:
        state = (
            instance.get_runs_count(dg.RunsFilter(tags=ours, statuses=FINISHED_STATUSES)),
            instance.get_runs_count(dg.RunsFilter(tags=ours, statuses=[DagsterRunStatus.QUEUED])),
        )
        if state != seen or time.monotonic() >= forced_at + FORCED_ITERATION_S:
            seen, forced_at = state, time.monotonic()
            _iterate(workspace, queue)
        current = instance.get_backfill(backfill_id)
        assert current is not None
        if current.status != BulkActionStatus.REQUESTED:
            runs = instance.get_run_records(filters=dg.RunsFilter(tags=ours))
            return BackfillOutcome(backfill_id, current.status, list(runs))
        time.sleep(0.5)
    raise TimeoutError(f"backfill {backfill_id} still running after {timeout_s} s")


def _iterate(workspace: WorkspaceProcessContext, queue: QueuedRunCoordinatorDaemon) -> None:
    for error in execute_backfill_iteration(workspace, log):
        if error is not None:
            raise RuntimeError(f"backfill iteration failed: {error.to_string()}")
    for error in queue.run_iteration(workspace):
        if error is not None:
            raise RuntimeError(f"run queue iteration failed: {error.to_string()}")
