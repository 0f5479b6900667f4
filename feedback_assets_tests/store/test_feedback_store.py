"""The store on both backends: schema, idempotent bulk inserts, late signals, windows, partitions."""

from __future__ import annotations

import pandas as pd
import pytest

from feedback_assets.store import FeedbackStore
from feedback_assets.store.migrations import head_version


def _events(ids: list[str], deployment: str = "dep-a", day: str = "2026-11-01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ids,
            "deployment_id": deployment,
            "prompt": [f"prompt {i}" for i in ids],
            "response": [f"response {i}" for i in ids],
            "metadata": "{}",
            "latency_ms": 12.5,
            "token_count": pd.array([7] * len(ids), dtype="Int64"),
            "timestamp": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(range(len(ids)), unit="h"),
        }
    )


def test_schema_is_versioned_and_migration_is_repeatable(store: FeedbackStore) -> None:
    assert store.schema_version() == head_version() == 11
    assert store.migrate() == head_version()
    assert store.schema_version() == head_version()


def test_inserts_are_idempotent_and_count_duplicates(store: FeedbackStore) -> None:
    first = store.insert_events(_events(["e1", "e2", "e3"]))
    assert (first.inserted, first.duplicates) == (3, 0)
    second = store.insert_events(_events(["e2", "e3", "e4"]))
    assert (second.inserted, second.duplicates) == (1, 2)
    assert store.counts()["events"] == 4


def test_signal_before_its_event_is_accepted_and_joined_later(store: FeedbackStore) -> None:
    signal = pd.DataFrame(
        {
            "signal_id": ["s1"],
            "event_id": ["late"],
            "signal_type": ["thumbs_up"],
            "metadata": ["{}"],
            "timestamp": [pd.Timestamp("2026-11-01 00:00:02", tz="UTC")],
        }
    )
    assert store.insert_signals(signal).inserted == 1
    before = store.read_signals()
    assert before["deployment_id"].isna().all()
    store.insert_events(_events(["late"]))
    after = store.read_signals(deployment_id="dep-a")
    assert after["signal_id"].tolist() == ["s1"]


def test_event_windows_and_latest(store: FeedbackStore) -> None:
    store.insert_events(_events([f"a{i}" for i in range(30)]))  # hourly from 00:00
    store.insert_events(_events(["b1"], deployment="dep-b"))
    start = pd.Timestamp("2026-11-01", tz="UTC").value // 1000
    end = pd.Timestamp("2026-11-02", tz="UTC").value // 1000
    day = store.read_events(deployment_id="dep-a", start_us=start, end_us=end)
    assert len(day) == 24
    assert day["timestamp"].is_monotonic_increasing
    latest = store.read_events(deployment_id="dep-a", latest=5)
    assert latest["event_id"].tolist() == [f"a{i}" for i in range(25, 30)]
    assert store.deployments() == ["dep-a", "dep-b"]
    assert str(day["timestamp"].dt.tz) == "UTC"


def test_replace_partition_is_idempotent(store: FeedbackStore) -> None:
    frame = pd.DataFrame(
        {
            "deployment_id": ["d1", "d1", "d2"],
            "event_id": ["e1", "e2", "e3"],
            "prompt": ["p"] * 3,
            "response": ["r"] * 3,
            "curation_source": ["high_quality", "diverse", "user_edit"],
            "curation_score": [0.9, 0.5, 10.0],
            "role": "sft",
        }
    )
    store.replace_partition("curated_examples", "2026-11-01", frame)
    first = store.read_table("curated_examples", partition_key="2026-11-01", order_by=["event_id"])
    store.replace_partition("curated_examples", "2026-11-01", frame)
    second = store.read_table("curated_examples", partition_key="2026-11-01", order_by=["event_id"])
    pd.testing.assert_frame_equal(first, second)
    assert len(second) == 3
    # Replacing one deployment's slice leaves the other's rows alone.
    store.replace_partition("curated_examples", "2026-11-01", frame.iloc[:1], deployment_ids=["d1"])
    third = store.read_table("curated_examples", partition_key="2026-11-01", order_by=["event_id"])
    assert third["event_id"].tolist() == ["e1", "e3"]


def test_missing_required_column_is_named(store: FeedbackStore) -> None:
    with pytest.raises(ValueError, match="prompt"):
        store.insert_events(_events(["x"]).drop(columns=["prompt"]))


def test_unsupported_url_names_the_variable() -> None:
    with pytest.raises(ValueError, match="FEEDBACK_STORE_URL"):
        FeedbackStore("mysql://nope")


def test_repr_hides_password(pg_url: str) -> None:
    store = FeedbackStore(pg_url)
    assert "feedback:***@" in repr(store)
    store.dispose()
