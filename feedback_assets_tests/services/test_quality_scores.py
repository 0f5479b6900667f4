"""score_partition: chunked, it stores exactly the rows the whole-window path stores."""

from __future__ import annotations

import pandas as pd
import pytest

from feedback_assets.resources.loop_settings import QualitySettings
from feedback_assets.services.quality_scores import score_partition, score_window
from feedback_assets.services.sanitized_logs import sanitize_partition
from feedback_assets.store import FeedbackStore
from feedback_assets.store.windows import deployment_window
from feedback_assets_tests.services.test_sanitized_logs import CUSTOM, DAY_US, START, _fill

DAYS = ("2026-03-01", "2026-03-02")
DEPLOYMENTS = ("support-bot", "code-assistant")


def _rows(store: FeedbackStore, day: str, dep: str) -> pd.DataFrame:
    frame = store.read_table("quality_scores", partition_key=day, deployment_id=dep)
    return frame.drop(columns=["timestamp"]).sort_values("event_id", ignore_index=True)


@pytest.mark.parametrize("chunk_rows", [1, 7, 10_000])
def test_chunks_store_the_rows_of_the_whole_window(store: FeedbackStore, chunk_rows: int) -> None:
    _fill(store)
    config = QualitySettings(expected_formats={"code-assistant": "json"}).config
    for offset, day in enumerate(DAYS):
        window = (START + offset * DAY_US, START + (offset + 1) * DAY_US)
        for dep in DEPLOYMENTS:
            sanitize_partition(store, day, dep, window, CUSTOM)
            # Today's path: the whole window scored at once, then replaced.
            old = score_window(store, deployment_window(store, day, dep), config(dep))
            store.replace_partition("quality_scores", day, old.table, deployment_ids=[dep])
            expected = _rows(store, day, dep)
            new = score_partition(store, day, dep, config(dep), chunk_rows=chunk_rows)
            pd.testing.assert_frame_equal(_rows(store, day, dep), expected)
            assert len(expected) > 20 and new.stats == old.stats
            assert new.table["event_id"].tolist() == old.table["event_id"].tolist()


def test_an_empty_day_scores_nothing(store: FeedbackStore) -> None:
    result = score_partition(store, "2026-03-05", "support-bot", QualitySettings().config("x"))
    assert result.table.empty and result.stats["status"] == "no data"
    assert "score" in result.table.columns
