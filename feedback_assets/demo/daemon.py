"""Dagster's own daemon iterations, driven once each, against the project's instance.

The demo opens the code location as `dagster dev` does (a code server for the module named in
pyproject.toml, under the same location name) and then runs what the daemon runs: a sensor
iteration records a tick per sensor, with its skip reason or the runs it requested; a backfill
iteration creates each partition's run with its code-location origin and submits it. So the
Overview timeline, the job pages, the backfill and every tick are in the instance afterwards.

Runs are submitted through the instance; only the launcher differs from dagster.yaml (see
launcher.py): the demo's instance executes each run at once, in this process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_representation.external import RemoteRepository, RemoteSensor
from dagster._core.scheduler.instigation import InstigatorTick
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.sensor import execute_sensor_iteration

import feedback_assets
from feedback_assets.demo.launcher import InProcessRunLauncher, RunObserver

# The same names `dagster dev` uses ([tool.dagster] in pyproject.toml, workspace.yaml): ticks and
# runs are stored under the location name, so the UI finds them only if the names match.
MODULE = "feedback_assets.definitions"
LOCATION = "feedback_assets"
INSTANCE_OVERRIDES = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "DefaultRunCoordinator",
    },
    "run_launcher": {"module": "feedback_assets.demo.launcher", "class": "InProcessRunLauncher"},
    # The console shows a run's warnings and errors only; every event is still recorded.
    "python_logs": {"python_log_level": "WARNING"},
}
MAX_BACKFILL_ITERATIONS = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickRecord:
    """One recorded sensor tick, as the UI's tick history shows it."""

    sensor: str
    tick_id: int
    timestamp: float
    status: str  # SUCCESS, SKIPPED or FAILURE
    skip_reason: str | None
    run_ids: tuple[str, ...]
    added_partitions: tuple[str, ...]
    error: str | None


class DemoDaemon:
    """The instance (with the in-process launcher) and the workspace, open for the demo."""

    def __init__(self, dagster_home: Path, observer: RunObserver | None = None) -> None:
        self._home = dagster_home
        self._observer = observer
        self._stack = ExitStack()
        self._instance: dg.DagsterInstance | None = None
        self._workspace: WorkspaceProcessContext | None = None

    def __enter__(self) -> DemoDaemon:
        ref = InstanceRef.from_dir(str(self._home), overrides=INSTANCE_OVERRIDES)
        self._instance = self._stack.enter_context(dg.DagsterInstance.from_ref(ref))
        launcher = self._instance.run_launcher
        assert isinstance(launcher, InProcessRunLauncher)
        launcher.observer = self._observer
        target = ModuleTarget(
            MODULE, None, str(Path(feedback_assets.__file__).parents[1]), LOCATION
        )
        self._workspace = self._stack.enter_context(
            WorkspaceProcessContext(self._instance, target, code_server_log_level="WARNING")
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def instance(self) -> dg.DagsterInstance:
        assert self._instance is not None, "use DemoDaemon as a context manager"
        return self._instance

    def repository(self) -> RemoteRepository:
        assert self._workspace is not None, "use DemoDaemon as a context manager"
        location = self._workspace.create_request_context().get_code_location(LOCATION)
        (repository,) = location.get_repositories().values()
        return repository

    def sensors(self) -> list[RemoteSensor]:
        return sorted(self.repository().get_sensors(), key=lambda s: s.name)

    def tick_sensors(self, on_wait: Any = None) -> list[TickRecord]:
        """One sensor-daemon iteration; waits first until every sensor's interval has passed."""
        assert self._workspace is not None
        wait = self._seconds_until_due()
        if wait > 0:
            if on_wait is not None:
                on_wait(wait)
            time.sleep(wait)
        before = {t.tick_id for t in self.ticks()}
        for error in execute_sensor_iteration(self._workspace, log, None, None):
            if error is not None:
                log.error("sensor tick failed: %s", error.to_string())
        return [t for t in self.ticks() if t.tick_id not in before]

    def _seconds_until_due(self) -> float:
        now, wait = time.time(), 0.0
        for sensor in self.sensors():
            latest = self._ticks_of(sensor, limit=1)
            if latest and sensor.min_interval_seconds:
                due = latest[0].timestamp + sensor.min_interval_seconds + 0.5
                wait = max(wait, due - now)
        return wait

    def ticks(self) -> list[TickRecord]:
        """Every recorded tick of the location's sensors, oldest first."""
        out = [_record(s.name, t) for s in self.sensors() for t in self._ticks_of(s)]
        return sorted(out, key=lambda t: (t.timestamp, t.tick_id))

    def _ticks_of(self, sensor: RemoteSensor, limit: int | None = None) -> Sequence[InstigatorTick]:
        return self.instance.get_ticks(
            sensor.get_remote_origin_id(), sensor.selector_id, limit=limit
        )

    def backfill(
        self, job_name: str, partition_keys: Sequence[str], title: str
    ) -> PartitionBackfill:
        """Request a backfill of `job_name` as the UI does, then run the backfill daemon on it."""
        assert self._workspace is not None
        partition_set = next(
            (p for p in self.repository().get_partition_sets() if p.job_name == job_name), None
        )
        if partition_set is None:
            raise ValueError(f"job_name: {job_name!r} is not a partitioned job of {LOCATION}")
        backfill = PartitionBackfill(
            backfill_id=make_new_backfill_id(),
            status=BulkActionStatus.REQUESTED,
            from_failure=False,
            tags={},
            backfill_timestamp=time.time(),
            partition_set_origin=partition_set.get_remote_origin(),
            partition_names=list(partition_keys),
            title=title,
        )
        self.instance.add_backfill(backfill)
        for _ in range(MAX_BACKFILL_ITERATIONS):
            for error in execute_backfill_iteration(self._workspace, log):
                if error is not None:
                    log.error("backfill iteration failed: %s", error.to_string())
            current = self.instance.get_backfill(backfill.backfill_id)
            assert current is not None
            if current.status != BulkActionStatus.REQUESTED:
                return current
        raise RuntimeError(
            f"backfill {backfill.backfill_id}: still requested after "
            f"{MAX_BACKFILL_ITERATIONS} daemon iterations"
        )


def _record(sensor: str, tick: InstigatorTick) -> TickRecord:
    added = tuple(
        key
        for result in tick.tick_data.dynamic_partitions_request_results
        for key in (result.added_partitions or [])
    )
    return TickRecord(
        sensor=sensor,
        tick_id=tick.tick_id,
        timestamp=tick.timestamp,
        status=tick.status.value,
        skip_reason=tick.skip_reason,
        run_ids=tuple(tick.run_ids),
        added_partitions=added,
        error=tick.error.message if tick.error else None,
    )
