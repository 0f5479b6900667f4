from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_assets.domain.ingest.validate import (
    ValidationError,
    _full_event,
    validate_event,
    validate_signal,
)
from feedback_assets.domain.records import EVENT_COLUMNS


def test_valid_event_is_normalized() -> None:
    backfill = datetime(2025, 1, 2, 3, 4, 5)
    event = validate_event(
        {
            "deployment_id": "d",
            "prompt": "p",
            "response": "r",
            "timestamp": backfill,
            "latency_ms": 3,
        }
    )
    assert event["timestamp"] == backfill.replace(tzinfo=UTC)
    assert len(event["event_id"]) == 36
    assert event["latency_ms"] == 3.0 and event["metadata"] == {}


def test_every_bad_field_is_named_in_one_error() -> None:
    with pytest.raises(ValidationError) as info:
        validate_event(
            {
                "deployment_id": "",
                "response": 5,
                "latency_ms": -1,
                "token_count": 1.5,
                "metadata": {"a": {"b": float("nan")}},
                "timestamp": "yesterday",
                "colour": "red",
            }
        )
    fields = info.value.fields
    for name in (
        "deployment_id",
        "prompt",
        "response",
        "latency_ms",
        "token_count",
        "metadata",
        "timestamp",
        "colour",
    ):
        assert name in fields, name
    assert "must be a finite number >= 0" in str(info.value)
    assert "prompt: is required" in str(info.value)


def test_metadata_depth_and_size_limits() -> None:
    deep: dict = {}
    node = deep
    for _ in range(12):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValidationError, match="metadata: nested deeper"):
        validate_event({"deployment_id": "d", "prompt": "p", "response": "r", "metadata": deep})
    with pytest.raises(ValidationError, match="prompt: exceeds"):
        validate_event({"deployment_id": "d", "prompt": "é" * 600_000, "response": "r"})


def test_iso_and_epoch_timestamps() -> None:
    iso = validate_event(
        {"deployment_id": "d", "prompt": "p", "response": "r", "timestamp": "2026-11-01T10:00:00Z"}
    )
    assert iso["timestamp"] == datetime(2026, 11, 1, 10, tzinfo=UTC)
    tz = datetime(2026, 11, 1, 12, tzinfo=UTC).astimezone(UTC) + timedelta(hours=0)
    epoch = validate_event(
        {"deployment_id": "d", "prompt": "p", "response": "r", "timestamp": tz.timestamp()}
    )
    assert epoch["timestamp"] == tz


def test_signals() -> None:
    ok = validate_signal({"event_id": "e1", "signal_type": "thumbs_up"})
    assert ok["signal_type"] == "thumbs_up"
    with pytest.raises(ValidationError) as info:
        validate_signal({"event_id": "e1", "signal_type": "edit"})
    assert info.value.fields == ["edited_response"]
    with pytest.raises(ValidationError, match="signal_type: must be one of"):
        validate_signal({"event_id": "e1", "signal_type": "love"})
    with pytest.raises(ValidationError, match="edited_response: only allowed"):
        validate_signal({"event_id": "e1", "signal_type": "copy", "edited_response": "x"})
    with pytest.raises(ValidationError, match="event_id: is required"):
        validate_signal({"signal_type": "copy"})


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["", " ", "ok", "x" * 300]),
    st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3), max_size=2),
    st.lists(st.integers(), max_size=2),
    st.sampled_from([2**63, 10**400, "a\ud800", {"big": 2**70}, {"s": "\udc00"}, "日本"]),
)
_payloads = st.dictionaries(
    # every field but the event time (its parsing has tests of its own), and an unknown one
    st.sampled_from([*(c for c in EVENT_COLUMNS if c != "timestamp"), "bogus"]),
    _values,
).map(lambda d: {"deployment_id": "dep", "prompt": "p", "response": "r", **d})


@settings(max_examples=400, deadline=None)
@given(_payloads)
def test_fast_path_agrees_with_the_full_check(payload: dict[str, object]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    if payload.get("event_id") is None:  # generated ids differ by design
        payload["event_id"] = "fixed-id"
    try:
        expected = _full_event(payload, now)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as info:
            validate_event(payload, now)
        assert str(info.value) == str(exc)
        return
    assert validate_event(payload, now) == expected


def test_generated_event_ids_are_version_7_uuids() -> None:
    ids = {validate_event({"deployment_id": "d", "prompt": "p", "response": "r"})["event_id"]}
    ids.add(validate_event({"deployment_id": "d", "prompt": "p", "response": "r"})["event_id"])
    assert len(ids) == 2
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_nul_characters_and_huge_counts_are_rejected_not_stored() -> None:
    # PostgreSQL text cannot hold NUL and BIGINT stops at 2^63-1: such values must be dead-lettered
    # at the door, never block delivery of the batch they sit in.
    with pytest.raises(ValidationError) as info:
        validate_event(
            {"deployment_id": "d\x00", "prompt": "p\x00", "response": "r", "token_count": 2**63}
        )
    assert info.value.fields == ["deployment_id", "prompt", "token_count"]
    assert "NUL" in str(info.value) and "2^63-1" in str(info.value)
    with pytest.raises(ValidationError, match="edited_response: must not contain NUL"):
        validate_signal({"event_id": "e1", "signal_type": "edit", "edited_response": "a\x00b"})
    assert validate_event(
        {"deployment_id": "d", "prompt": "p", "response": "r", "token_count": 2**63 - 1}
    )
