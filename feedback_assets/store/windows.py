"""Read a deployment's sanitized window (events + quality + signals) for the derived stages."""

from __future__ import annotations

from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.references import partition_keys_between


def window_between(store: FeedbackStore, deployment_id: str, start_us: int, end_us: int) -> Window:
    events = store.read_table(
        "sanitized_logs",
        deployment_id=deployment_id,
        start_us=start_us,
        end_us=end_us,
        order_by=["timestamp_us", "event_id"],
    )
    keys = partition_keys_between(start_us, end_us)
    quality = store.read_table(
        "quality_scores", deployment_id=deployment_id, start_us=start_us, end_us=end_us
    )
    signals = store.read_table("sanitized_signals", partition_key=keys, deployment_id=deployment_id)
    return Window(events, quality, signals)


def partition_windows(store: FeedbackStore, partition_key: str) -> dict[str, Window]:
    """Every deployment's window for one partition."""
    events = store.read_table(
        "sanitized_logs", partition_key=partition_key, order_by=["timestamp_us", "event_id"]
    )
    quality = store.read_table("quality_scores", partition_key=partition_key)
    signals = store.read_table("sanitized_signals", partition_key=partition_key)
    return {
        str(dep): Window(
            group.reset_index(drop=True),
            quality[quality["deployment_id"] == dep].reset_index(drop=True),
            signals[signals["deployment_id"] == dep].reset_index(drop=True),
        )
        for dep, group in events.groupby("deployment_id", sort=True)
    }


def deployment_window(store: FeedbackStore, day: str, deployment_id: str) -> Window:
    """One deployment's sanitized rows for one day partition (one run of the loop)."""
    return Window(
        store.read_table(
            "sanitized_logs",
            partition_key=day,
            deployment_id=deployment_id,
            order_by=["timestamp_us", "event_id"],
        ),
        store.read_table("quality_scores", partition_key=day, deployment_id=deployment_id),
        store.read_table("sanitized_signals", partition_key=day, deployment_id=deployment_id),
    )
