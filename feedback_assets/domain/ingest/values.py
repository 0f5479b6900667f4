"""Rules for single values that every record shares: Unicode text that can be encoded,
finite numbers, plain JSON metadata, and event times."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from feedback_assets.domain.records import MAX_METADATA_BYTES, MAX_METADATA_DEPTH

UTF8_REASON = "must be valid Unicode text (no lone surrogates), which UTF-8 cannot encode"
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what a JSON encoder (and its readers) can carry


def finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past the float range
        return False


def utf8_ok(value: str) -> bool:
    """False for a str holding lone surrogates (no encoder, database or file can store it)."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def json_problem(value: Any, depth: int) -> str | None:
    if depth > MAX_METADATA_DEPTH:
        return f"nested deeper than {MAX_METADATA_DEPTH} levels"
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"keys must be strings, got {type(k).__name__}"
            if not utf8_ok(k):
                return f"keys {UTF8_REASON}"
            problem = json_problem(v, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for v in value:
            problem = json_problem(v, depth + 1)
            if problem:
                return problem
    elif isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite"
    elif isinstance(value, str) and not utf8_ok(value):
        return f"strings {UTF8_REASON}"
    elif (
        isinstance(value, int) and not isinstance(value, bool) and not _INT_MIN <= value <= _INT_MAX
    ):
        return "integers must fit in 64 bits"
    elif not (value is None or isinstance(value, str | int | float | bool)):
        return f"values must be JSON (got {type(value).__name__})"
    return None


def plain_json(value: dict[Any, Any]) -> bool:
    """True for a flat dict of plain JSON scalars, plainly within the limits (the common
    metadata); False sends it to the full check."""
    size = 2
    for k, v in value.items():
        if type(k) is not str or not utf8_ok(k):
            return False
        t = type(v)
        if t is str:
            if not utf8_ok(v):
                return False
            size += len(v)
        elif t is float:
            if not math.isfinite(v):
                return False
        elif t is int:
            if not _INT_MIN <= v <= _INT_MAX:
                return False
        elif not (t is bool or v is None):
            return False
        size += len(k) + 24  # quotes, separators, and a number's or escape's growth
    # A character takes at most 6 bytes as JSON (a \u00XX escape): bound the worst case
    return size * 6 <= MAX_METADATA_BYTES


TIME_ERRORS = (TypeError, ValueError, OverflowError, OSError)


def parse_time(value: Any) -> datetime:
    """An event time as aware UTC; raises one of TIME_ERRORS when it is not one."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ts = datetime.fromtimestamp(float(value), UTC)
    else:
        raise TypeError(type(value).__name__)
    # Naive datetimes are taken as UTC: backfilled history is loggable.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


_REPR_CHARS = 200


def safe_text(value: str) -> str:
    """`value` with lone surrogates escaped (\\udXXX), so any encoder can carry it."""
    return value if utf8_ok(value) else value.encode("utf-8", "backslashreplace").decode()


def describe(value: Any) -> str:
    """A short, encodable repr for messages; never raises (a hostile __repr__ is named)."""
    try:
        text = repr(value)
    except Exception as exc:  # any user object may raise from __repr__
        return f"<{type(value).__name__}: repr failed with {type(exc).__name__}>"
    if not isinstance(text, str):  # a __repr__ returning a non-str raises in repr() already
        return f"<{type(value).__name__}>"
    return safe_text(text[:_REPR_CHARS])


def field_name(key: Any) -> str:
    """A payload key as a field name in an error: encodable text, whatever the key is."""
    return safe_text(key) if isinstance(key, str) else describe(key)


def json_safe(value: Any, depth: int = 0, max_depth: int = MAX_METADATA_DEPTH + 2) -> Any:
    """`value` as plain, encodable JSON for a dead letter: keys and strings escaped, deep or
    cyclic nesting cut at max_depth, anything else as its safe repr. Never raises."""
    try:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return safe_text(value)
        if isinstance(value, int):
            return int(value) if _INT_MIN <= value <= _INT_MAX else describe(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else describe(value)
        if isinstance(value, Mapping | list | tuple) and depth >= max_depth:
            return f"<{type(value).__name__} nested deeper than {max_depth} levels>"
        if isinstance(value, Mapping):
            return {field_name(k): json_safe(v, depth + 1, max_depth) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [json_safe(v, depth + 1, max_depth) for v in value]
        return describe(value)
    except Exception as exc:  # a hostile container (items() or __iter__ raising)
        return f"<{type(value).__name__}: unreadable ({type(exc).__name__})>"
