"""What `make demo` prints while it works: stage lines, a progress bar per job, warnings, errors.

Dagster's per-event console lines are off (the demo's instance logs warnings and errors only,
daemon.py); the bar counts steps over all of a job's partitions instead. Python warnings and
log records at WARNING or above print above the bar.

While a run executes, Dagster captures the process's stdout and stderr into the run's compute
logs (and mirrors them back to the terminal). The bars are drawn on a copy of the terminal's
file descriptor taken beforehand, so the capture neither swallows nor records them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

STEP_DONE = {
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
}


class Progress:
    """A RunObserver (launcher.py): one bar per job, advanced by each finished step."""

    def __init__(self, enabled: bool | None = None) -> None:
        # Bars on a terminal only; logs and captured output get the stage lines alone.
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._terminal = os.fdopen(os.dup(sys.stderr.fileno()), "w") if self.enabled else None
        self._bars: dict[str, Any] = {}
        self._expected: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._steps: dict[str, int] = {}

    def stage(self, message: str) -> None:
        tqdm.write(message, file=sys.stdout)

    def expect(self, job_name: str, runs: int) -> None:
        """The number of runs a job will have, so its bar knows its length up front."""
        self._expected[job_name] = runs

    def run_started(self, run: dg.DagsterRun, steps: int) -> None:
        self._steps[run.run_id], self._done[run.run_id] = steps, 0
        bar = self._bars.get(run.job_name)
        if bar is None:
            runs = self._expected.get(run.job_name, 1)
            bar = tqdm(
                total=runs * steps,
                desc=run.job_name,
                unit="step",
                disable=not self.enabled,
                file=self._terminal,
                leave=True,
                dynamic_ncols=True,
            )
            self._bars[run.job_name] = bar
        elif run.job_name not in self._expected:
            bar.total += steps  # runs requested by sensors: not known up front
            bar.refresh()
        bar.set_postfix_str(_partition(run), refresh=False)

    def run_event(self, run: dg.DagsterRun, event: DagsterEvent) -> None:
        if event.event_type in STEP_DONE:
            self._advance(run, 1)
            self._bars[run.job_name].set_postfix_str(
                f"{_partition(run)} {event.step_key or ''}", refresh=False
            )

    def run_finished(self, run: dg.DagsterRun) -> None:
        # Steps that never ran (an upstream failure) still count as done.
        self._advance(run, self._steps.get(run.run_id, 0) - self._done.get(run.run_id, 0))

    def _advance(self, run: dg.DagsterRun, steps: int) -> None:
        if steps > 0 and run.job_name in self._bars:
            self._done[run.run_id] = self._done.get(run.run_id, 0) + steps
            self._bars[run.job_name].update(steps)

    def close(self) -> None:
        """Finish the current bars (the next job gets new ones)."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self._terminal is not None:
            self._terminal.close()


def _partition(run: dg.DagsterRun) -> str:
    return run.tags.get("dagster/partition", "")


@contextmanager
def quiet_console() -> Iterator[None]:
    """Warnings and errors only, printed above the progress bars."""
    import datasets

    datasets.disable_progress_bars()  # one "Saving the dataset" bar per export otherwise
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    try:
        with logging_redirect_tqdm():
            yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(previous)
