"""partition_counts: the SQL aggregates equal counting the rows read whole (the old path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.store import FeedbackStore
from feedback_assets.store.partition_counts import partition_counts

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
START = int(DAY0.timestamp() * 1e6)
DAY_US = 86_400_000_000


def _old_path(store: FeedbackStore, dep: str, start: int, end: int) -> dict:
    events = store.read_events(dep, start_us=start, end_us=end)
    signals = store.read_signals(event_ids=events["event_id"].tolist())
    day_signals = store.read_signals(start_us=start, end_us=end)
    dead = store.read_dead_letters(start_us=start, end_us=end)
    return {
        "events": len(events),
        "per_type": {str(k): int(v) for k, v in signals["signal_type"].value_counts().items()},
        "orphans": int(day_signals["deployment_id"].isna().sum()),
        "dead": {str(k): int(v) for k, v in dead["kind"].value_counts().items()},
    }


def test_counts_equal_the_rows_counted(store: FeedbackStore) -> None:
    for seed, dep in enumerate(("support-bot", "code-assistant")):
        events, signals = generate_stream(150, seed=seed, deployment_id=dep, start=DAY0)
        events["timestamp"] = DAY0 + (events["timestamp"] - DAY0) * 1000  # over ~2 days
        signals["timestamp"] = DAY0 + (signals["timestamp"] - DAY0) * 1000 + timedelta(hours=6)
        store.insert_events(events)
        store.insert_signals(signals)
    orphan = {"signal_id": "o1", "event_id": "never-seen", "signal_type": "thumbs_up"}
    store.insert_signals(pd.DataFrame([{**orphan, "metadata": "{}", "timestamp": DAY0}]))
    store.insert_dead_letters(
        pd.DataFrame(
            [
                {
                    "id": f"d{i}",
                    "kind": kind,
                    "reason": "r",
                    "payload": "{}",
                    "received_us": START + i,
                }
                for i, kind in enumerate(["event", "event", "signal"])
            ]
        )
    )
    seen = 0
    for day in range(3):
        window = (START + day * DAY_US, START + (day + 1) * DAY_US)
        for dep in ("support-bot", "code-assistant"):
            old = _old_path(store, dep, *window)
            new = partition_counts(store, dep, *window)
            assert (new.events, new.signals_per_type) == (old["events"], old["per_type"])
            assert new.signals == sum(old["per_type"].values())
            assert new.orphan_signals_day == old["orphans"]
            assert new.dead_letters_per_kind == old["dead"]
            seen += new.events
    assert seen == store.counts()["events"] > 250  # every event falls in one of the days
    assert partition_counts(store, "support-bot", START, START + DAY_US).orphan_signals_day == 1
