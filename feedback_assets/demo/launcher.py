"""The demo's run launcher: each launched run executes at once, in this process.

`make demo` drives Dagster's own daemon iterations (sensors, backfills) against the project's
instance, so every run is created with its code-location origin and every tick is recorded, as
under `dagster dev`. Only the last hop differs: where the daemon hands a run to the default
launcher (a new Python process per run, 3-4 s of imports each on a small machine), this launcher
executes it synchronously here. It is set on the demo's instance only (daemon.py), never in
dagster.yaml, so `dagster dev` keeps the default launcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import dagster as dg
from dagster._core.events import DagsterEvent
from dagster._core.execution.api import execute_run_iterator
from dagster._core.launcher import LaunchRunContext, RunLauncher
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster._utils.hosted_user_process import recon_job_from_origin


class RunObserver(Protocol):
    """Told about every run the launcher executes (the demo's progress bar)."""

    def run_started(self, run: dg.DagsterRun, steps: int) -> None: ...

    def run_event(self, run: dg.DagsterRun, event: DagsterEvent) -> None: ...

    def run_finished(self, run: dg.DagsterRun) -> None: ...


class InProcessRunLauncher(RunLauncher, ConfigurableClass):
    """Executes each run synchronously in the launching process."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self.observer: RunObserver | None = None
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> InProcessRunLauncher:
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if run.job_code_origin is None:
            raise dg.DagsterInvariantViolationError(
                f"run {run.run_id}: job_code_origin is missing; only runs created from a "
                "code location can be launched"
            )
        job = recon_job_from_origin(run.job_code_origin)
        observer = self.observer
        if observer is not None:
            observer.run_started(run, self._step_count(run))
        try:
            for event in execute_run_iterator(job, run, self._instance):
                if observer is not None:
                    observer.run_event(run, event)
        finally:
            if observer is not None:
                observer.run_finished(run)

    def _step_count(self, run: dg.DagsterRun) -> int:
        if run.execution_plan_snapshot_id is None:
            return 0
        plan = self._instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        return len(plan.step_keys_to_execute)

    def terminate(self, run_id: str) -> bool:
        return False  # a run has finished by the time launch_run returns
