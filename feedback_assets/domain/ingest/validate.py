"""Event and signal validation: one exception naming every bad field and why.

Returns normalized plain dicts (the SDK's hot path), shaped like EVENT_COLUMNS / SIGNAL_COLUMNS
with `metadata` still a dict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from feedback_assets.domain.ingest.ids import new_event_id
from feedback_assets.domain.ingest.values import (
    TIME_ERRORS,
    UTF8_REASON,
    describe,
    field_name,
    finite,
    json_problem,
    parse_time,
    plain_json,
    safe_text,
    utf8_ok,
)
from feedback_assets.domain.records import (
    EVENT_COLUMNS,
    MAX_ID_CHARS,
    MAX_METADATA_BYTES,
    MAX_TEXT_BYTES,
    SIGNAL_COLUMNS,
    SIGNAL_TYPES,
)

# The payload keys an app may send are exactly the stored columns.
_EVENT_FIELDS = frozenset(EVENT_COLUMNS)
_SIGNAL_FIELDS = frozenset(SIGNAL_COLUMNS)
_OPTIONAL_IDS = ("model_version_id", "user_id", "trace_id", "session_id")
_COUNTS = ("token_count", "input_tokens", "output_tokens")
MAX_COUNT = 2**63 - 1  # BIGINT
NUL_REASON = "must not contain NUL characters (\\x00)"
_ID_FIELDS = ("deployment_id", *_OPTIONAL_IDS)


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ValidationError(ValueError):
    """Every bad field of one payload, with the reason for each."""

    def __init__(self, kind: str, errors: list[FieldError]) -> None:
        self.kind = kind
        self.errors = errors
        super().__init__(f"invalid {kind}: " + "; ".join(str(e) for e in errors))

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]


def _check_text(
    payload: Mapping[str, Any],
    name: str,
    errors: list[FieldError],
    required: bool,
    nonblank: bool | None = None,
) -> None:
    """A text field; `nonblank` (default: when required) also rejects "" and whitespace."""
    value = payload.get(name)
    if value is None:
        if required:
            errors.append(FieldError(name, "is required"))
        return
    if not isinstance(value, str):
        errors.append(FieldError(name, f"must be a string, got {type(value).__name__}"))
    elif (required if nonblank is None else nonblank) and not value.strip():
        errors.append(FieldError(name, "must not be empty"))
    elif "\x00" in value:
        errors.append(FieldError(name, NUL_REASON))
    elif not utf8_ok(value):
        errors.append(FieldError(name, UTF8_REASON))
    elif len(value) > MAX_TEXT_BYTES // 4 and len(value.encode()) > MAX_TEXT_BYTES:
        errors.append(FieldError(name, f"exceeds {MAX_TEXT_BYTES} bytes"))


def _check_id(
    payload: Mapping[str, Any], name: str, errors: list[FieldError], required: bool
) -> None:
    value = payload.get(name)
    if value is None:
        if required:
            errors.append(FieldError(name, "is required"))
        return
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(name, "must be a non-empty string"))
    elif len(value) > MAX_ID_CHARS:
        errors.append(FieldError(name, f"exceeds {MAX_ID_CHARS} characters"))
    elif "\x00" in value:
        errors.append(FieldError(name, NUL_REASON))
    elif not utf8_ok(value):
        errors.append(FieldError(name, UTF8_REASON))


def _check_metadata(payload: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    value = payload.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(FieldError("metadata", f"must be a JSON object, got {type(value).__name__}"))
        return {}
    problem = json_problem(value, 1)
    if problem is None and len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        problem = f"exceeds {MAX_METADATA_BYTES} bytes as JSON"
    if problem:
        errors.append(FieldError("metadata", problem))
    return dict(value)


def _check_time(payload: Mapping[str, Any], errors: list[FieldError], now: datetime) -> datetime:
    value = payload.get("timestamp")
    if value is None:
        return now
    try:
        return parse_time(value)
    except TIME_ERRORS as exc:
        errors.append(
            FieldError(
                "timestamp",
                f"must be a datetime, ISO-8601 string or epoch seconds ({safe_text(str(exc))})",
            )
        )
        return now


def _check_uuid(
    payload: Mapping[str, Any], name: str, errors: list[FieldError], required: bool
) -> str:
    value = payload.get(name)
    if value is None:
        if required:
            errors.append(FieldError(name, "is required"))
            return ""
        return new_event_id()
    if isinstance(value, uuid.UUID):
        return str(value)
    if (
        not isinstance(value, str)
        or not value
        or len(value) > 64
        or "\x00" in value
        or not utf8_ok(value)
    ):
        errors.append(FieldError(name, "must be a string of 1-64 characters (a UUID)"))
        return ""
    return value


def _unknown(payload: Mapping[str, Any], allowed: frozenset[str], errors: list[FieldError]) -> None:
    for key in payload:
        try:
            known = isinstance(key, str) and key in allowed
        except Exception:  # a str subclass whose __hash__ or __eq__ raises
            known = False
        if not known:
            errors.append(FieldError(field_name(key), "unknown field"))


def validate_event(payload: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A normalized event dict, or ValidationError naming every bad field. Never raises
    anything else, whatever the payload holds (hostile objects, deep or cyclic nesting)."""
    if not isinstance(payload, Mapping):
        kind = type(payload).__name__
        raise ValidationError("event", [FieldError("event", f"must be a mapping, got {kind}")])
    try:
        fast = _fast_event(payload, now)
    except Exception:  # a hostile key or value: the full check names the field
        fast = None
    if fast is not None:
        return fast
    try:
        return _full_event(payload, now)
    except ValidationError:
        raise
    except Exception as exc:
        raise _unreadable("event", exc) from exc


def _unreadable(kind: str, exc: Exception) -> ValidationError:
    """The last resort for a payload no check could read (a Mapping whose methods raise)."""
    reason = f"could not be read: {type(exc).__name__} while validating"
    return ValidationError(kind, [FieldError(kind, reason)])


def _full_event(payload: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Every check, every error collected: the reference _fast_event must agree with."""
    errors: list[FieldError] = []
    _unknown(payload, _EVENT_FIELDS, errors)
    event_id = _check_uuid(payload, "event_id", errors, required=False)
    _check_id(payload, "deployment_id", errors, required=True)
    for name in _OPTIONAL_IDS:
        _check_id(payload, name, errors, required=False)
    _check_text(payload, "prompt", errors, required=True)
    # An empty answer is a real outcome to learn from: accepted here, scored 0 by quality.
    _check_text(payload, "response", errors, required=True, nonblank=False)
    latency = payload.get("latency_ms")
    if latency is not None and (
        isinstance(latency, bool)
        or not isinstance(latency, int | float)
        or not finite(latency)
        or latency < 0
    ):
        errors.append(
            FieldError("latency_ms", f"must be a finite number >= 0, got {describe(latency)}")
        )
    for name in _COUNTS:
        value = payload.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT
        ):
            errors.append(
                FieldError(name, f"must be an integer from 0 to 2^63-1, got {describe(value)}")
            )
    metadata = _check_metadata(payload, errors)
    ts = _check_time(payload, errors, now or datetime.now(UTC))
    if errors:
        raise ValidationError("event", errors)
    return {
        "event_id": event_id,
        "deployment_id": payload["deployment_id"],
        "model_version_id": payload.get("model_version_id"),
        "user_id": payload.get("user_id"),
        "prompt": payload["prompt"],
        "response": payload["response"],
        "latency_ms": None if latency is None else float(latency),
        "token_count": payload.get("token_count"),
        "input_tokens": payload.get("input_tokens"),
        "output_tokens": payload.get("output_tokens"),
        "trace_id": payload.get("trace_id"),
        "session_id": payload.get("session_id"),
        "metadata": metadata,
        "timestamp": ts,
    }


def _fast_event(payload: Mapping[str, Any], now: datetime | None) -> dict[str, Any] | None:
    """The normalized event when every field is plainly valid; None sends it to the full check.

    Accepts only what validate_event's full path accepts, with the same result, so errors
    and their messages come from one place.
    """
    if type(payload) is not dict or not payload.keys() <= _EVENT_FIELDS:
        return None
    get = payload.get
    event_id = get("event_id")
    if event_id is None:
        event_id = new_event_id()
    elif not _plain_uuid(event_id):
        return None
    # Plain calls, no closures: this runs once per logged event.
    if not (_plain_strings(get) and _plain_numbers(get)):
        return None
    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict or not plain_json(metadata):
        return None
    else:
        metadata = dict(metadata)
    if get("timestamp") is not None:
        return None
    latency = get("latency_ms")
    return {
        "event_id": event_id,
        "deployment_id": payload["deployment_id"],
        "model_version_id": get("model_version_id"),
        "user_id": get("user_id"),
        "prompt": payload["prompt"],
        "response": payload["response"],
        "latency_ms": None if latency is None else float(latency),
        "token_count": get("token_count"),
        "input_tokens": get("input_tokens"),
        "output_tokens": get("output_tokens"),
        "trace_id": get("trace_id"),
        "session_id": get("session_id"),
        "metadata": metadata,
        "timestamp": now or datetime.now(UTC),
    }


def _plain_uuid(event_id: object) -> bool:
    """An event_id the full check keeps as is (1-64 ASCII characters, no NUL)."""
    return not (
        type(event_id) is not str
        or not event_id
        or len(event_id) > 64
        or "\x00" in event_id
        or not event_id.isascii()
    )


def _plain_strings(get: Callable[[str], Any]) -> bool:
    """Every id field absent (deployment_id present) or a plainly valid string, and prompt
    (non-blank) and response (may be blank) plain strings within MAX_TEXT_BYTES."""
    if get("deployment_id") is None:
        return False
    for name in _ID_FIELDS:
        value = get(name)
        if value is not None and (
            type(value) is not str
            or len(value) > MAX_ID_CHARS
            or not value.strip()
            or "\x00" in value
            or not utf8_ok(value)
        ):
            return False
    for name in ("prompt", "response"):
        value = get(name)
        if type(value) is not str or "\x00" in value or not utf8_ok(value):
            return False
        if name == "prompt" and not value.strip():
            return False
        if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode()) > MAX_TEXT_BYTES:
            return False
    return True


def _plain_numbers(get: Callable[[str], Any]) -> bool:
    """latency_ms a finite int/float >= 0 and the counts ints in BIGINT range, when present."""
    latency = get("latency_ms")
    if latency is not None:
        t = type(latency)
        if not (t is float or t is int) or not finite(latency) or latency < 0:
            return False
    for name in _COUNTS:
        value = get(name)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_COUNT):
            return False
    return True


def validate_signal(payload: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A normalized signal dict, or ValidationError naming every bad field (and nothing else)."""
    try:
        return _full_signal(payload, now)
    except ValidationError:
        raise
    except Exception as exc:
        raise _unreadable("signal", exc) from exc


def _full_signal(payload: Mapping[str, Any], now: datetime | None) -> dict[str, Any]:
    errors: list[FieldError] = []
    _unknown(payload, _SIGNAL_FIELDS, errors)
    signal_id = _check_uuid(payload, "signal_id", errors, required=False)
    event_id = _check_uuid(payload, "event_id", errors, required=True)
    signal_type = payload.get("signal_type")
    if signal_type is None:
        errors.append(FieldError("signal_type", "is required"))
    elif not isinstance(signal_type, str) or signal_type not in SIGNAL_TYPES:
        errors.append(
            FieldError(
                "signal_type",
                f"must be one of {', '.join(SIGNAL_TYPES)}; got {describe(signal_type)}",
            )
        )
    _check_id(payload, "user_id", errors, required=False)
    # Compared only as a str: a hostile object's __eq__ is never called.
    is_edit = isinstance(signal_type, str) and signal_type == "edit"
    _check_text(payload, "edited_response", errors, required=is_edit)
    if signal_type is not None and not is_edit and payload.get("edited_response") is not None:
        errors.append(FieldError("edited_response", "only allowed on 'edit' signals"))
    metadata = _check_metadata(payload, errors)
    ts = _check_time(payload, errors, now or datetime.now(UTC))
    if errors:
        raise ValidationError("signal", errors)
    return {
        "signal_id": signal_id,
        "event_id": event_id,
        "signal_type": signal_type,
        "user_id": payload.get("user_id"),
        "edited_response": payload.get("edited_response"),
        "metadata": metadata,
        "timestamp": ts,
    }
