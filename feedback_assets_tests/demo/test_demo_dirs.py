"""The demo works in its own directories and never deletes one it did not create."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feedback_assets.demo.__main__ import MARKER, DemoDirError, _prepare


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("FEEDBACK_DATA_DIR", "FEEDBACK_EXPORT_ROOT", "FEEDBACK_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))  # _prepare points it elsewhere
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return tmp_path


def test_the_environments_store_and_export_root_are_never_used_or_wiped(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = clean_env / "production"
    (users / "data").mkdir(parents=True)
    (users / "data" / "feedback.db").write_text("the user's store")
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(users / "data"))
    monkeypatch.setenv("FEEDBACK_EXPORT_ROOT", str(users / "exports"))
    monkeypatch.setenv("FEEDBACK_STORE_URL", "postgresql://u:p@127.0.0.1:1/prod")
    _prepare(clean_env / "demo" / "data", fresh=True, days=3)
    assert os.environ["FEEDBACK_DATA_DIR"] == str(clean_env / "demo" / "data")
    assert os.environ["FEEDBACK_EXPORT_ROOT"] == str(clean_env / "demo" / "exports")
    assert "FEEDBACK_STORE_URL" not in os.environ  # the embedded store in the demo's data dir
    assert (users / "data" / "feedback.db").read_text() == "the user's store"
    assert not (users / "exports").exists()


def test_a_directory_the_demo_did_not_create_is_refused_not_deleted(clean_env: Path) -> None:
    theirs = clean_env / "data"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me")
    with pytest.raises(DemoDirError, match=r"--data-dir: .* holds data the demo did not create"):
        _prepare(theirs, fresh=True, days=3)
    assert (theirs / "notes.txt").read_text() == "keep me"


def test_the_demos_own_directories_are_wiped_on_a_fresh_run(clean_env: Path) -> None:
    data = clean_env / "data"
    _prepare(data, fresh=True, days=3)
    assert (data / MARKER).exists() and (clean_env / "exports" / MARKER).exists()
    (data / "old-run.db").write_text("stale")
    _prepare(data, fresh=True, days=3)
    assert not (data / "old-run.db").exists() and (data / MARKER).exists()
    (data / "kept.db").write_text("kept")
    _prepare(data, fresh=False, days=3)  # --keep adds to earlier demo data
    assert (data / "kept.db").exists()


def test_the_history_plain_dagster_dev_left_in_the_data_dir_is_adopted(clean_env: Path) -> None:
    # `make dev` (or `dg check defs`) before the first `make demo` creates data/dagster_home.
    history = clean_env / "data" / "dagster_home" / "history"
    history.mkdir(parents=True)
    (history / "runs.db").write_text("dagster dev's runs")
    _prepare(clean_env / "data", fresh=True, days=3)
    assert (history / "runs.db").read_text() == "dagster dev's runs"
    assert (clean_env / "data" / MARKER).exists()
