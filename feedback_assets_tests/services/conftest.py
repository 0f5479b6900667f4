"""The loop fixtures (a data dir and export root per test, a Dagster instance) for services."""

from feedback_assets_tests.defs.conftest import instance, loop_env  # noqa: F401
