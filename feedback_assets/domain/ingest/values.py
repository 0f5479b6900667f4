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
