"""Spool line encoding: the batch and single-event forms agree, and memoised redaction is exact."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_assets.client.lines import LineEncoder
from feedback_assets.client.spool import BATCH_PREFIX
from feedback_assets.domain.ingest.validate import validate_event
from feedback_assets.domain.ingest.validate_batch import epoch_us, validate_event_batch
from feedback_assets.domain.pii.sanitize import sanitize_value

PII = ["jane.doe@example.com", "call +1 (415) 555-0134", "4111 1111 1111 1111", "ssn 123-45-6789"]
SAFE = ["chat", "order 1234567890123", "v2.13.27", "2026-11-30", ""]
_texts = st.one_of(st.sampled_from(PII + SAFE), st.text(max_size=80))


def _encoder() -> LineEncoder:
    return LineEncoder((), b"key-0123456789abcdef", True, Counter())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _texts | st.integers() | st.none(), max_size=4))
def test_memoised_metadata_redaction_equals_sanitize_value(meta: dict[str, object]) -> None:
    enc = _encoder()
    expected, counts = sanitize_value(meta)
    for _ in range(2):  # the second pass is served from the memo
        assert enc.clean_metadata(meta) == expected
    assert enc.stats == Counter({f"redacted.{k}": 2 * v for k, v in counts.items() if v})


def test_batch_lines_equal_single_lines() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    payloads = [
        {
            "deployment_id": "d",
            "event_id": f"e{i}",
            "user_id": f"user-{i % 3}",
            "prompt": f"question {i} from {PII[i % len(PII)]}",
            "response": f"answer\t{SAFE[i % len(SAFE)]} \\ \n line",
            "latency_ms": 1.5 * i,
            "token_count": i,
            "metadata": {"route": "chat", "email": PII[0], "n": i},
        }
        for i in range(12)
    ]
    payloads[5]["timestamp"] = "2025-06-01T12:00:00Z"  # a backfilled event in the batch
    records = [validate_event(p, now) for p in payloads]
    single, batch = _encoder(), _encoder()
    one_by_one = [orjson.loads(single.event_line(dict(r))) for r in records]
    line = batch.event_batch_line(validate_event_batch(payloads, now).table)
    assert line.startswith(BATCH_PREFIX) and line.endswith(b"\n") and line.count(b"\n") == 1
    record = orjson.loads(line)
    cols = record["cols"]
    together = [
        {"k": "e", **dict(zip(cols, values, strict=True)), "pii_version": record["v"]}
        for values in zip(*cols.values(), strict=True)
    ]
    assert together == one_by_one
    assert record["v"] == single.version is not None  # the set both paths redacted with
    assert together[5]["timestamp_us"] == epoch_us(datetime(2025, 6, 1, 12, tzinfo=UTC))
    assert single.stats == batch.stats and single.stats["redacted.EMAIL"] >= 12
    assert all("@" not in line["prompt"] + line["metadata"] for line in together)
    assert together[0]["timestamp_us"] == epoch_us(now) == 1767323045678901
    assert len({r["user_id"] for r in together}) == 3  # one HMAC per distinct user
