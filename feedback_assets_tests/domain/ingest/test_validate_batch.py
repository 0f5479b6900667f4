"""The vectorized batch validation accepts exactly what validate_event accepts, with the same
values and the same error messages."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_assets.domain.ingest import validate_batch
from feedback_assets.domain.ingest.ids import new_event_id, new_event_ids
from feedback_assets.domain.ingest.validate import ValidationError, validate_event
from feedback_assets.domain.ingest.validate_batch import (
    BATCH_SCHEMA,
    epoch_us,
    validate_event_batch,
)
from feedback_assets.domain.records import EVENT_COLUMNS, MAX_METADATA_BYTES

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**70), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["", " ", "\u3000", "ok", "x" * 300, "a\x00b", "a\ud800", b"bytes", "日本"]),
    st.sampled_from([uuid.UUID(int=7), datetime(2025, 1, 1), "2025-01-01T00:00:00Z", "nope"]),
    st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3), max_size=2),
    st.sampled_from([{"n": float("nan")}, {"big": 2**70}, {1: "x"}, {"k": {"deep": [1]}}]),
    st.lists(st.integers(), max_size=2),
)
_FIELDS = [*EVENT_COLUMNS, "bogus"]
_payloads = st.one_of(
    st.dictionaries(st.sampled_from(_FIELDS), _values).map(
        lambda d: {"deployment_id": "dep", "prompt": "p", "response": "r", **d}
    ),
    st.sampled_from([None, "text", ["a"]]),
)


def _as_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {name: record.get(name) for name in BATCH_SCHEMA.names}
    row["metadata"] = orjson.loads(orjson.dumps(record["metadata"]))
    row["timestamp_us"] = epoch_us(record["timestamp"])
    return row


def _by_position(batch: validate_batch.EventBatch) -> dict[int, dict[str, Any]]:
    return dict(zip(batch.positions.tolist(), batch.table.to_pylist(), strict=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(_payloads, max_size=12))
def test_batch_agrees_with_validate_event_row_by_row(payloads: list[Any]) -> None:
    for i, payload in enumerate(payloads):
        if isinstance(payload, dict) and payload.get("event_id") is None:
            payload["event_id"] = f"id-{i}"  # generated ids differ by design
    # Both column paths: per distinct value (few values) and Arrow kernels (many).
    plain = validate_event_batch(payloads, NOW)
    saved, validate_batch.FEW_DISTINCT = validate_batch.FEW_DISTINCT, 0
    try:
        batch = validate_event_batch(payloads, NOW)
    finally:
        validate_batch.FEW_DISTINCT = saved
    assert [(i, str(e)) for i, e in plain.errors] == [(i, str(e)) for i, e in batch.errors]
    assert _by_position(plain) == _by_position(batch)
    errors = dict(batch.errors)
    rows = _by_position(batch)
    assert sorted([*errors, *rows]) == list(range(len(payloads)))  # each row exactly once
    for i, payload in enumerate(payloads):
        if not isinstance(payload, dict):
            assert errors[i].fields == ["event"]
            continue
        try:
            expected = validate_event(payload, NOW)
        except ValidationError as exc:
            assert str(errors[i]) == str(exc)
            continue
        got = rows[i] | {"metadata": orjson.loads(rows[i]["metadata"])}
        assert got == _as_row(expected)


def test_a_clean_batch_takes_no_row_by_row_path_and_keeps_order() -> None:
    payloads = [
        {"deployment_id": "d", "prompt": f"q{i}", "response": "r", "token_count": i}
        for i in range(50)
    ]
    batch = validate_event_batch(payloads, NOW)
    assert not batch.errors
    assert batch.positions.tolist() == list(range(50))
    assert batch.table.column("token_count").to_pylist() == list(range(50))
    assert batch.table.column("metadata").to_pylist() == ["{}"] * 50
    assert set(batch.table.column("timestamp_us").to_pylist()) == {epoch_us(NOW)}
    assert batch.table.schema == BATCH_SCHEMA


def test_bad_rows_are_reported_by_field_and_good_ones_kept() -> None:
    good = {"deployment_id": "d", "prompt": "p", "response": "r"}
    payloads = [
        good,
        {**good, "prompt": "a\ud800b"},  # a lone surrogate cannot be encoded anywhere
        {**good, "metadata": {"n": 2**70}},  # past what JSON encoders carry
        {**good, "metadata": {"blob": "x" * MAX_METADATA_BYTES}},
        {**good, "token_count": 2**63},
        {**good, "timestamp": "2025-06-01T00:00:00Z"},
        "not an event",
    ]
    batch = validate_event_batch(payloads, NOW)
    assert {i: e.fields for i, e in batch.errors} == {
        1: ["prompt"],
        2: ["metadata"],
        3: ["metadata"],
        4: ["token_count"],
        6: ["event"],
    }
    assert "surrogate" in str(dict(batch.errors)[1])
    assert "64 bits" in str(dict(batch.errors)[2])
    assert f"exceeds {MAX_METADATA_BYTES} bytes" in str(dict(batch.errors)[3])
    assert sorted(batch.positions.tolist()) == [0, 5]
    backfilled = epoch_us(datetime(2025, 6, 1, tzinfo=UTC))
    assert sorted(batch.table.column("timestamp_us").to_pylist()) == [backfilled, epoch_us(NOW)]


@pytest.mark.parametrize("payload", [{"prompt": "a\udc00"}, {"metadata": {"k\ud800": 1}}])
def test_validate_event_rejects_what_no_encoder_can_store(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        validate_event({"deployment_id": "d", "prompt": "p", "response": "r", **payload})
    assert info.value.fields == list(payload)


def test_generated_ids_are_unique_time_ordered_version_7_uuids() -> None:
    before_ms = time.time_ns() // 1_000_000
    batch = new_event_ids(5000).to_pylist()
    one_by_one = [new_event_id() for _ in range(5000)]
    after_ms = time.time_ns() // 1_000_000
    ids = batch + one_by_one
    assert len(set(ids)) == 10_000
    for value in ids[::50]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before_ms <= parsed.int >> 80 <= after_ms  # the first 48 bits: Unix milliseconds
    time.sleep(0.002)
    assert new_event_id() > max(ids) and min(new_event_ids(3).to_pylist()) > max(ids)
    # the 74 random bits are random: every hex digit shows up in each fully random position
    digits = np.array([list(v.replace("-", "")) for v in ids])
    assert all(len(set(digits[:, k])) == 16 for k in range(17, 32))
