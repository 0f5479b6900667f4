"""Freed memory back to the operating system after each step of an in-process run.

feedback_loop_job runs its steps in one process. Each step reads a deployment-day, and the
allocators (glibc's malloc, Arrow's pool) keep what a step freed for reuse, so without this the
run's RSS grew towards the sum of its steps (at 1M events a day, drift_reports started where
curated_sets ended: 1.3 GB instead of 0.5 GB).
"""

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Callable

import dagster as dg
import pyarrow as pa


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, looked up once (find_library runs ldconfig); None elsewhere."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim  # type: ignore[no-any-return]
    return None  # not glibc (musl, macOS): nothing to trim


_MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    gc.collect()
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


@dg.success_hook(name="release_memory_after_step")
def release_memory_after_step(context: dg.HookContext) -> None:
    release_memory()


@dg.failure_hook(name="release_memory_after_failed_step")
def release_memory_after_failed_step(context: dg.HookContext) -> None:
    release_memory()


RELEASE_MEMORY_HOOKS = {release_memory_after_step, release_memory_after_failed_step}
