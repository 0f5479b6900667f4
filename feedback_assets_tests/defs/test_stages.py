"""The pipeline stages as ops in a user's own job: every option is honoured."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from feedback_assets import api
from feedback_assets.definitions import defs
from feedback_assets.defs.resources import build_resources
from feedback_assets.defs.stages import check_triggers, export_feedback
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets_tests.defs.conftest import ingest
from feedback_assets_tests.test_api import TRAFFIC


@pytest.fixture
def store_resource(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FeedbackStoreResource:
    url = f"sqlite:///{tmp_path / 'data' / 'feedback.db'}"
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FEEDBACK_STORE_URL", url)
    monkeypatch.setenv("FEEDBACK_EXPORT_ROOT", str(tmp_path / "exports"))
    ingest(url, tmp_path / "data", TRAFFIC)
    api.curate("bot")
    return FeedbackStoreResource(url=url, export_root=str(tmp_path / "exports"))


def _run(op, config: dict, resource: FeedbackStoreResource):
    # The project's own job for the stage (launchable from the UI), not an ad-hoc one.
    stage_job = defs().resolve_job_def(f"{op.name}_job")
    result = stage_job.execute_in_process(
        run_config={"ops": {op.name: {"config": config}}},
        resources={**build_resources(), "feedback_store": resource},
    )
    return result.output_for_node(op.name)


def test_export_feedback_honours_format_path_and_filters(
    store_resource: FeedbackStoreResource,
) -> None:
    path = _run(
        export_feedback,
        {
            "deployment_id": "bot",
            "format": "parquet",
            "output_path": "stage/a.parquet",
            "curation_source": ["high_quality"],
            "min_score": 0.0,
        },
        store_resource,
    )
    table = pq.read_table(path)
    assert path.endswith("stage/a.parquet") and table.num_rows > 0
    assert set(table.column("curation_source").to_pylist()) == {"high_quality"}
    assert set(table.column("role").to_pylist()) == {"sft"}
    capped = _run(
        export_feedback,
        {
            "deployment_id": "bot",
            "format": "csv",
            "output_path": "stage/b.csv",
            "limit": 3,
            "include_exported": True,
        },
        store_resource,
    )
    with open(capped, newline="") as f:
        assert len(list(csv.DictReader(f))) == 3  # answers may span lines: parse, not count


def test_check_triggers_honours_threshold_window_and_types(
    store_resource: FeedbackStoreResource,
) -> None:
    base = {"deployment_id": "bot", "window_hours": 72.0}
    fired = _run(
        check_triggers, {**base, "trigger_types": ["volume"], "threshold": 1}, store_resource
    )
    assert [d["type"] for d in fired] == ["data_count"]
    assert (
        _run(
            check_triggers,
            {**base, "trigger_types": ["volume"], "threshold": 10**9},
            store_resource,
        )
        == []
    )
    quality = _run(
        check_triggers, {**base, "trigger_types": ["accuracy"], "threshold": 1.0}, store_resource
    )
    assert [d["type"] for d in quality] == ["quality_drop"]
    assert quality[0]["values"]["n"] > 100
    # A 1-hour window holds too few events for the quality trigger's minimum sample.
    short = _run(
        check_triggers,
        {**base, "window_hours": 1.0, "trigger_types": ["accuracy"], "threshold": 1.0},
        store_resource,
    )
    assert short == []
    with pytest.raises(ValueError, match="trigger_types: unknown"):
        _run(check_triggers, {**base, "trigger_types": ["vibes"]}, store_resource)
