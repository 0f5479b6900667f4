"""curation_window reads only curation's columns, in chunks, and curates exactly what the full
deployment_window curates (SQLite and PostgreSQL)."""

from __future__ import annotations

import pandas as pd
import pytest

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.curation.curation import CurationConfig
from feedback_assets.domain.quality.quality import score_batch
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.services.curated_sets import curate_window
from feedback_assets.store import FeedbackStore
from feedback_assets.store.curation_reads import (
    EVENT_COLUMNS,
    QUALITY_COLUMNS,
    SIGNAL_COLUMNS,
    curation_window,
)
from feedback_assets.store.windows import deployment_window

DAY = "2026-01-01"


def _fill(store: FeedbackStore, deployment_id: str, day: str, seed: int) -> None:
    start = pd.Timestamp(day, tz="UTC").to_pydatetime()
    events, signals = generate_stream(400, seed=seed, deployment_id=deployment_id, start=start)
    events = events[events["timestamp"] < pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)]
    signals = signals[signals["event_id"].isin(events["event_id"])]
    only = {"deployment_ids": [deployment_id]}
    store.replace_partition("sanitized_logs", day, events.assign(redacted=False), **only)
    scored = score_batch(events["response"], QualityConfig()).reset_index(drop=True)
    keep = events[["event_id", "deployment_id", "model_version_id", "timestamp"]]
    store.replace_partition(
        "quality_scores", day, pd.concat([keep.reset_index(drop=True), scored], axis=1), **only
    )
    signals = signals.assign(deployment_id=deployment_id)
    store.replace_partition("sanitized_signals", day, signals, **only)


def test_curation_window_is_the_full_window_narrowed(store: FeedbackStore) -> None:
    _fill(store, "support-bot", DAY, seed=1)
    _fill(store, "code-assistant", DAY, seed=2)  # another deployment of the same day
    full = deployment_window(store, DAY, "support-bot")
    slim = curation_window(store, DAY, "support-bot", chunk_rows=37)  # chunks split the day
    assert len(full.events) > 300 and len(full.signals) > 20
    for got, want, cols in (
        (slim.events, full.events, EVENT_COLUMNS),
        (slim.quality, full.quality, QUALITY_COLUMNS),
        (slim.signals, full.signals, SIGNAL_COLUMNS),
    ):
        want_cols = [*cols, "timestamp"] if "timestamp_us" in cols else list(cols)
        assert list(got.columns) == want_cols
        pd.testing.assert_frame_equal(got, want[got.columns], check_dtype=False)
    assert "details" not in slim.quality and "user_id" not in slim.events
    config = CurationConfig(limit=60)
    a = curate_window(full, None, config)
    b = curate_window(slim, None, config)
    pd.testing.assert_frame_equal(a.curated, b.curated)
    pd.testing.assert_frame_equal(a.new_splits, b.new_splits)
    assert len(a.curated) > 20


def test_only_candidates_answers_are_read_and_curation_is_unchanged(store: FeedbackStore) -> None:
    """With the hard-quality bound, events that can be neither selected nor paired (no signal,
    no low score, no judge verdict, no regeneration link) keep their answer in the database,
    and curating gives exactly the full window's rows."""
    from feedback_assets.domain.curation.curation import UNREAD_RESPONSE

    _fill(store, "support-bot", DAY, seed=1)
    config = CurationConfig(limit=60)
    full = deployment_window(store, DAY, "support-bot")
    lazy = curation_window(store, DAY, "support-bot", chunk_rows=37, max_hard_quality=0.5)
    unread = (lazy.events["response"] == UNREAD_RESPONSE).to_numpy()
    assert 0 < unread.sum() < len(lazy.events)
    assert list(lazy.events.columns) == [*EVENT_COLUMNS, "timestamp"]
    read = full.events.set_index("event_id")["response"]
    kept = lazy.events[~unread]
    assert kept["response"].tolist() == read.loc[kept["event_id"]].tolist()
    a, b = curate_window(full, None, config), curate_window(lazy, None, config)
    pd.testing.assert_frame_equal(a.curated, b.curated)
    pd.testing.assert_frame_equal(a.new_splits, b.new_splits)
    # Read for a lower bound than curation uses: a hard row it would pick was not read.
    strict = curation_window(store, DAY, "support-bot", max_hard_quality=0.0)
    with pytest.raises(ValueError, match="events.response"):
        curate_window(strict, None, CurationConfig(limit=60, max_hard_quality=0.9))


@pytest.mark.parametrize("chunk_rows", [1, 10_000])
@pytest.mark.parametrize("max_hard_quality", [None, 0.5])
def test_an_empty_day_reads_empty_frames(
    store: FeedbackStore, chunk_rows: int, max_hard_quality: float | None
) -> None:
    window = curation_window(
        store, DAY, "nobody", chunk_rows=chunk_rows, max_hard_quality=max_hard_quality
    )
    assert window.events.empty and window.quality.empty and window.signals.empty
    assert "response" in window.events.columns
    assert curate_window(window, None, CurationConfig()).curated.empty


def test_known_splits_reads_the_assignment_columns_only(store: FeedbackStore) -> None:
    from feedback_assets.store.eval_set import add_splits, known_splits

    _fill(store, "support-bot", DAY, seed=3)
    result = curate_window(curation_window(store, DAY, "support-bot"), None, CurationConfig())
    assert add_splits(store, "support-bot", DAY, result.new_splits) > 10
    cols = ["prompt_key", "cluster_key", "split", "prompt"]
    full = store.read_table("prompt_splits", deployment_id="support-bot", order_by=["prompt_key"])
    assert full["reference_answer"].notna().any()  # the column left unread holds text
    pd.testing.assert_frame_equal(known_splits(store, "support-bot"), full[cols])
    assert list(known_splits(store, "nobody").columns) == cols
