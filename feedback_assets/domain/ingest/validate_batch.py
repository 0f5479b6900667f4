"""Vectorized validation of an events batch (the SDK's `log_inferences`).

Arrow kernels check each column at once. A row that some check cannot plainly accept is handed
to `validate_event`, which normalizes it or names every bad field. So a batch accepts exactly
what `validate_event` accepts, with the same values, and error messages come from one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from feedback_assets.domain.ingest.ids import new_event_ids
from feedback_assets.domain.ingest.validate import (  # one field list for both paths
    _COUNTS,
    _EVENT_FIELDS,
    _OPTIONAL_IDS,
    MAX_COUNT,
    ValidationError,
    validate_event,
)
from feedback_assets.domain.ingest.values import TIME_ERRORS, parse_time, plain_json, utf8_ok
from feedback_assets.domain.records import MAX_ID_CHARS, MAX_TEXT_BYTES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_TEXT = pa.large_string()
# The events as spooled: metadata as JSON text, the event time as epoch microseconds.
BATCH_SCHEMA = pa.schema(
    [
        *((name, _TEXT) for name in ("event_id", "deployment_id", "model_version_id", "user_id")),
        ("prompt", _TEXT),
        ("response", _TEXT),
        ("latency_ms", pa.float64()),
        *((name, pa.int64()) for name in ("token_count", "input_tokens", "output_tokens")),
        ("trace_id", _TEXT),
        ("session_id", _TEXT),
        ("metadata", _TEXT),
        ("timestamp_us", pa.int64()),
    ]
)


def epoch_us(ts: datetime) -> int:
    """Exact epoch microseconds of an aware datetime (no float rounding)."""
    return (ts - _EPOCH) // _US


@dataclass(frozen=True)
class EventBatch:
    table: pa.Table  # the valid events (BATCH_SCHEMA); user ids and texts as the app sent them
    positions: np.ndarray  # the input index of each row of `table`
    errors: list[tuple[int, ValidationError]]  # (input index, what is wrong), in input order


def validate_event_batch(payloads: Sequence[Any], now: datetime | None = None) -> EventBatch:
    """Validate and normalize many events; invalid ones are reported, never raised.

    A row no column-wise check can handle (a key whose __hash__ raises, ...) cannot sink the
    others: the batch is then judged row by row, each row alone.
    """
    now = now or datetime.now(UTC)
    try:
        return _column_wise(payloads, now)
    except Exception:
        return _row_by_row(payloads, now)


def _row_by_row(payloads: Sequence[Any], now: datetime) -> EventBatch:
    errors: list[tuple[int, ValidationError]] = []
    rows, at = [], []
    for i, payload in enumerate(payloads):
        try:
            rows.append(_row(validate_event(payload, now)))
            at.append(i)
        except ValidationError as exc:
            errors.append((i, exc))
    table = pa.Table.from_pylist(rows, schema=BATCH_SCHEMA)
    return EventBatch(table=table, positions=np.asarray(at, dtype=np.int64), errors=errors)


def _column_wise(payloads: Sequence[Any], now: datetime) -> EventBatch:
    n = len(payloads)
    slow = np.zeros(n, dtype=bool)
    rows: list[dict[str, Any]] = list(payloads)
    if not all(type(p) is dict for p in rows):
        slow |= np.fromiter((type(p) is not dict for p in rows), bool, n)
        rows = [p if type(p) is dict else {} for p in rows]
    if not set().union(*rows) <= _EVENT_FIELDS:
        slow |= np.fromiter((not p.keys() <= _EVENT_FIELDS for p in rows), bool, n)

    def column(name: str) -> list[Any]:
        return [p.get(name) for p in rows]

    cols: dict[str, pa.Array] = {}
    ids = _strings(column("event_id"), slow, max_chars=64)
    cols["event_id"] = pc.coalesce(ids, new_event_ids(n))
    cols["deployment_id"] = _strings(
        column("deployment_id"), slow, max_chars=MAX_ID_CHARS, required=True, nonblank=True
    )
    for name in _OPTIONAL_IDS[:2]:
        cols[name] = _strings(column(name), slow, max_chars=MAX_ID_CHARS, nonblank=True)
    for name in ("prompt", "response"):  # an empty response is valid (scored 0 by quality)
        cols[name] = _strings(
            column(name), slow, max_bytes=MAX_TEXT_BYTES, required=True, nonblank=name == "prompt"
        )
    latency = _typed(column("latency_ms"), (int, float), pa.float64(), slow)
    slow |= _mask(pc.invert(pc.and_(pc.is_finite(latency), pc.greater_equal(latency, 0.0))))
    cols["latency_ms"] = latency
    for name in _COUNTS:
        counts = _typed(column(name), (int,), pa.int64(), slow)
        slow |= _mask(pc.less(counts, 0))
        cols[name] = counts
    for name in _OPTIONAL_IDS[2:]:
        cols[name] = _strings(column(name), slow, max_chars=MAX_ID_CHARS, nonblank=True)
    cols["metadata"] = pa.array(_metadata(column("metadata"), slow), _TEXT)
    cols["timestamp_us"] = _times(column("timestamp"), slow, epoch_us(now))

    table = pa.table(cols, schema=BATCH_SCHEMA)
    fast = np.flatnonzero(~slow)
    if fast.size < n:
        table = table.take(pa.array(fast))
    errors, extra, extra_at = [], [], []
    for i in np.flatnonzero(slow).tolist():
        try:
            record = validate_event(payloads[i], now)
        except ValidationError as exc:
            errors.append((i, exc))
            continue
        extra.append(_row(record))
        extra_at.append(i)
    if extra:
        table = pa.concat_tables([table, pa.Table.from_pylist(extra, schema=BATCH_SCHEMA)])
    positions = np.concatenate([fast, np.asarray(extra_at, dtype=np.int64)])
    return EventBatch(table=table, positions=positions, errors=errors)


def _row(record: dict[str, Any]) -> dict[str, Any]:
    """A validate_event result in BATCH_SCHEMA's shape."""
    row = {name: record.get(name) for name in BATCH_SCHEMA.names}
    row["metadata"] = orjson.dumps(record["metadata"]).decode()
    row["timestamp_us"] = epoch_us(record["timestamp"])
    return row


def _mask(flags: pa.Array) -> np.ndarray:
    """A boolean kernel's result as numpy; null (no value to check) counts as False."""
    return np.asarray(flags.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _typed(values: list[Any], types: tuple[type, ...], to: pa.DataType, slow: np.ndarray) -> Any:
    """`values` as Arrow; a value of another type, or one Arrow cannot hold, marks its row slow
    (and reads as null here: validate_event decides about it)."""
    if set(map(type, values)) <= {*types, type(None)}:
        try:
            return pa.array(values, to)
        except (pa.ArrowException, OverflowError, UnicodeError):
            pass
    kept: list[Any] = []
    for i, value in enumerate(values):
        if value is not None:
            try:
                value = _convert(value, types, to)
            except (TypeError, ValueError, OverflowError, UnicodeError):
                slow[i] = True
                value = None
        kept.append(value)
    return pa.array(kept, to)


def _convert(value: Any, types: tuple[type, ...], to: pa.DataType) -> Any:
    """The value as Arrow will hold it; raises when it cannot (validate_event then decides)."""
    if type(value) not in types:
        raise TypeError(type(value).__name__)
    if pa.types.is_large_string(to):
        value.encode()
    elif pa.types.is_int64(to):
        if not -MAX_COUNT - 1 <= value <= MAX_COUNT:
            raise OverflowError(value)
    else:
        value = float(value)  # ints past 2^53 are rounded, as validate_event's float() does
    return value


def _strings(
    values: list[Any],
    slow: np.ndarray,
    *,
    max_chars: int | None = None,
    max_bytes: int | None = None,
    required: bool = False,
    nonblank: bool = False,
) -> Any:
    """A text column; rows that are not plainly valid text are marked slow."""
    distinct = None
    if max_bytes is None:  # ids repeat; texts rarely do, and hashing them all costs
        with contextlib.suppress(TypeError):  # an unhashable value, so not a string
            distinct = set(values)
    if distinct is not None and len(distinct) <= FEW_DISTINCT:
        # Few distinct values (a deployment id, an absent field): judge each once in Python.
        bad = {
            v
            for v in distinct
            if not (v is None and not required)
            and not _plain_string(v, max_chars, max_bytes, nonblank)
        }
        if bad:  # equal-but-not-identical values (1 == True) only add rows to re-check
            flags = np.fromiter((v in bad for v in values), bool, len(values))
            slow |= flags
            values = [None if f else v for v, f in zip(values, flags, strict=True)]
        return pa.array(values, _TEXT)
    arr = _typed(values, (str,), _TEXT, slow)
    if required:
        slow |= _mask(arr.is_null())
    slow |= _nul_rows(arr)
    checks = []
    if nonblank:  # an ASCII graphic character is never whitespace (others: validate_event)
        checks.append(pc.invert(pc.match_substring_regex(arr, "[!-~]")))
    if max_chars is not None:
        checks.append(pc.or_(pc.greater(pc.utf8_length(arr), max_chars), pc.equal(arr, "")))
    if max_bytes is not None:
        checks.append(pc.greater(pc.binary_length(arr), max_bytes))
    for check in checks:
        slow |= _mask(check)
    return arr


FEW_DISTINCT = 32


def _plain_string(value: Any, max_chars: int | None, max_bytes: int | None, nonblank: bool) -> bool:
    """The Arrow checks below, for one value."""
    return (
        type(value) is str
        and "\x00" not in value
        and utf8_ok(value)
        and (not nonblank or bool(value.strip()))
        and (max_chars is None or 0 < len(value) <= max_chars)
        and (max_bytes is None or len(value.encode()) <= max_bytes)
    )


def _nul_rows(arr: pa.Array) -> np.ndarray:
    """Rows holding a NUL character: zero bytes in the UTF-8 data, found by numpy (Arrow's
    substring kernel costs about 1.7 us a row even for a one-byte needle)."""
    mask = np.zeros(len(arr), dtype=bool)
    _, offsets_buf, data_buf = arr.buffers()
    if data_buf is None or len(arr) == 0:
        return mask
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    zeros = np.flatnonzero(data == 0) + offsets[0]
    if zeros.size:
        mask[np.searchsorted(offsets, zeros, side="right") - 1] = True
    return mask


def _metadata(values: list[Any], slow: np.ndarray) -> list[str | None]:
    """Metadata as JSON text; anything but a flat, plainly valid object goes to validate_event."""
    out: list[str | None] = []
    for i, value in enumerate(values):
        if value is None:
            out.append("{}")
        elif type(value) is dict and plain_json(value):
            out.append(orjson.dumps(value).decode())
        else:
            slow[i] = True
            out.append(None)
    return out


def _times(values: list[Any], slow: np.ndarray, now_us: int) -> pa.Array:
    if all(v is None for v in values):
        return pa.array(np.full(len(values), now_us, dtype=np.int64))
    out = np.full(len(values), now_us, dtype=np.int64)
    for i, value in enumerate(values):
        if value is not None:
            try:
                out[i] = epoch_us(parse_time(value))
            except TIME_ERRORS:
                slow[i] = True
    return pa.array(out)
