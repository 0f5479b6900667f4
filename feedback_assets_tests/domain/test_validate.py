from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedback_assets.domain.validate import ValidationError, validate_event, validate_signal


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
