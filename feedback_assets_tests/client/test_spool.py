"""Spool segments: row lines and column-batch ("E") lines read back into one events frame."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson

from feedback_assets.client.lines import LineEncoder
from feedback_assets.client.spool import BATCH_PREFIX, read_segments
from feedback_assets.domain.ingest.validate import validate_event
from feedback_assets.domain.ingest.validate_batch import validate_event_batch

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _payload(i: int) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "deployment_id": "d",
        "user_id": f"u{i % 2}",
        "prompt": f"q{i} mail jane{i}@example.com",
        "response": 'a\n"quoted" \\ tab\t',
        "token_count": i,
        "metadata": {"n": i},
    }


def test_batch_and_row_lines_read_back_as_the_same_events(tmp_path: Path) -> None:
    enc = LineEncoder((), b"key-0123456789abcdef", True, Counter())
    rows = [enc.event_line(validate_event(_payload(i), NOW)) for i in range(3)]
    batch = enc.event_batch_line(
        validate_event_batch([_payload(i) for i in range(3, 7)], NOW).table
    )
    signal = {"k": "s", "signal_id": "s1", "event_id": "e1", "signal_type": "copy"}
    signal |= {"metadata": "{}", "timestamp_us": 1}
    segment = tmp_path / "a.jsonl"
    segment.write_bytes(rows[0])
    other = tmp_path / "b.jsonl"
    other.write_bytes(rows[1] + batch + rows[2] + orjson.dumps(signal) + b"\n")

    parsed = read_segments([segment, other])
    assert parsed.corrupt_lines == 0
    events = parsed.events.sort("token_count")
    assert events["event_id"].to_list() == [f"e{i}" for i in range(7)]
    assert events["prompt"].to_list() == [f"q{i} mail [EMAIL]" for i in range(7)]
    assert set(events["response"]) == {'a\n"quoted" \\ tab\t'}
    assert events["user_id"].n_unique() == 2 and events["user_id"].str.len_chars().min() == 64
    assert events["timestamp_us"].unique().to_list() == [int(NOW.timestamp() * 1_000_000)]
    assert parsed.signals["signal_id"].to_list() == ["s1"]


def test_a_damaged_batch_line_is_counted_and_the_rest_survives(tmp_path: Path) -> None:
    enc = LineEncoder((), b"key-0123456789abcdef", False, Counter())
    good = enc.event_batch_line(validate_event_batch([_payload(i) for i in range(4)], NOW).table)
    wrong_type = BATCH_PREFIX + b'"cols":{"event_id":[1],"prompt":["x"]}}\n'
    torn = b'{"k":"E","cols":{"event_id":["e9"'
    no_prompt = orjson.dumps({"k": "e", "event_id": "e8", "deployment_id": "d", "response": "r"})
    segment = tmp_path / "s.jsonl"
    segment.write_bytes(wrong_type + good + no_prompt + b"\n" + torn)

    parsed = read_segments([segment])
    assert parsed.events["event_id"].to_list() == ["e0", "e1", "e2", "e3"]
    # the malformed batch, the event that could never be stored, and the torn tail
    assert parsed.corrupt_lines == 3
