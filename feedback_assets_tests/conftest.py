"""Shared fixtures: a throwaway PostgreSQL for the session, and a store per backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("FEEDBACK_HASH_KEY", "test-hash-key-0123456789")
os.environ.setdefault("MPLBACKEND", "Agg")
# Fixed, so a demo's <data dir>/feedback.env in the checkout cannot move the tests' partitions.
os.environ.setdefault("FEEDBACK_PARTITION_START", "2026-01-01")

from feedback_assets_tests.pg_server import PostgresServer, start_postgres  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    # Never skipped: a missing PostgreSQL is a failure (CI must run the PostgreSQL leg).
    server = start_postgres()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str):
    from feedback_assets.store import FeedbackStore

    s = FeedbackStore(store_url)
    yield s
    s.dispose()


@pytest.fixture(autouse=True)
def _dagster_defs_state_storage_restored() -> Iterator[None]:
    """Dagster keeps the entered instance's defs-state storage in a context variable. A test
    that loads definitions inside a run can leave it pointing at an instance that is gone; the
    next `defs()` outside any instance then fails ("undefined DagsterInstance weakref").
    Each test starts and ends with the value it found."""
    from dagster._core.storage.defs_state.base import _current_storage

    before = _current_storage.get()
    yield
    if _current_storage.get() is not before:
        _current_storage.set(before)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (the backfill, then the other `slow` ones), the rest in collected
    order: with `make test`'s two xdist workers (whole modules each, in this order) the long
    ones start at once instead of becoming the run's tail."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("backfill"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)  # stable: the rest keeps its collected order
