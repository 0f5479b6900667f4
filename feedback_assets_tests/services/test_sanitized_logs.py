"""sanitize_partition: chunked, it writes exactly the rows of the whole-partition path."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.pii.pii_version import pattern_set_version
from feedback_assets.domain.pii.sanitize import PiiPattern
from feedback_assets.domain.pii.sanitized_logs import sanitize_logs
from feedback_assets.services.sanitized_logs import sanitize_partition
from feedback_assets.store import FeedbackStore

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
START = int(DAY0.timestamp() * 1e6)
CUSTOM = (PiiPattern("TICKET", r"TCK-[0-9]{6}"),)


def _fill(store: FeedbackStore) -> None:
    """Two deployments over two days; raw PII in some rows, some stamped as SDK-redacted."""
    for seed, dep in enumerate(("support-bot", "code-assistant")):
        events, signals = generate_stream(120, seed=seed, deployment_id=dep, start=DAY0)
        # ~1 event per second from DAY0: stretch 120 events over two days.
        events["timestamp"] = DAY0 + (events["timestamp"] - DAY0) * 1200
        signals["timestamp"] = DAY0 + (signals["timestamp"] - DAY0) * 1200
        pii = pd.Series(
            ["", " mail jane.doe@example.com", " TCK-123456 ", " call +1 (415) 555-0134"]
        )
        events["prompt"] = events["prompt"] + pii.iloc[events.index % 4].to_numpy()
        stamped = events.index % 3 == 0
        events["pii_version"] = None
        events.loc[stamped & (events.index % 4 == 0), "pii_version"] = pattern_set_version(CUSTOM)
        events.loc[stamped & (events.index % 4 != 0), "pii_version"] = "0-older"
        store.insert_events(events)
        store.insert_signals(signals)


def _stored(store: FeedbackStore, table: str, day: str, dep: str, key: str) -> pd.DataFrame:
    frame = store.read_table(table, partition_key=day, deployment_id=dep)
    return frame.sort_values(key, ignore_index=True)


def _values(column: pd.Series) -> list:
    return column.astype(object).where(column.notna(), None).tolist()


@pytest.mark.parametrize("chunk_rows", [1, 7, 10_000])
def test_chunks_give_the_rows_of_the_whole_partition(store: FeedbackStore, chunk_rows: int) -> None:
    _fill(store)
    for offset, day in enumerate(("2026-03-01", "2026-03-02")):
        window = (START + offset * DAY_US, START + (offset + 1) * DAY_US)
        for dep in ("support-bot", "code-assistant"):
            events = store.read_events(dep, *window)
            signals = store.read_signals(event_ids=events["event_id"].tolist())
            assert len(events) > 20 and len(signals)  # 7-row chunks split the deployment-day
            whole = sanitize_logs(events, signals, CUSTOM)  # today's path: everything redacted
            result = sanitize_partition(store, day, dep, window, CUSTOM, chunk_rows)
            logs = _stored(store, "sanitized_logs", day, dep, "event_id")
            expected = whole.events.sort_values("event_id", ignore_index=True)
            for col in ("event_id", "prompt", "response", "metadata", "redacted", "timestamp_us"):
                assert _values(logs[col]) == _values(expected[col]), col
            sig = _stored(store, "sanitized_signals", day, dep, "signal_id")
            exp_sig = whole.signals.sort_values("signal_id", ignore_index=True)
            for col in ("signal_id", "edited_response", "metadata"):
                assert _values(sig[col]) == _values(exp_sig[col]), col
            assert (result.events, result.signals) == (len(events), len(signals))
            assert result.rows_changed == int(whole.events["redacted"].sum()) > 0
            assert result.rows_scanned == len(events) and not any(result.leaks.values())


def test_a_rerun_replaces_and_a_failure_keeps_the_old_rows(store: FeedbackStore) -> None:
    _fill(store)
    window = (START, START + DAY_US)
    first = sanitize_partition(store, "2026-03-01", "support-bot", window, CUSTOM, 5)
    again = sanitize_partition(store, "2026-03-01", "support-bot", window, CUSTOM, 50)
    assert store.count("sanitized_logs", deployment_id="support-bot") == first.events
    assert again.events == first.events
    with pytest.raises(re.error):
        bad = (PiiPattern("BAD", r"("),)  # unparsed: fails after the old rows were deleted
        sanitize_partition(store, "2026-03-01", "support-bot", window, bad, 5)
    assert store.count("sanitized_logs", deployment_id="support-bot") == first.events
