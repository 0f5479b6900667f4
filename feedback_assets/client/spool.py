"""The local spool: append-only JSON-lines segments that make accepted records durable.

A record is written with one unbuffered `write` before `log_inference` returns, so it survives a
SIGKILL of the app (it is in the kernel). Each segment stays flock-ed by its owner until it is
flushed and deleted; a segment nobody holds belongs to a dead client and is replayed. Replays are
harmless twice over: inserts are idempotent on event_id / signal_id / dead-letter id.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

SUFFIX = ".jsonl"


@dataclass
class Segment:
    path: Path
    fd: int
    records: int = 0
    bytes: int = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


_TEXT = pl.Utf8
# Every field any record kind writes; a line's kind is its "k" ("e" event, "s" signal, "d" dead).
LINE_SCHEMA: dict[str, Any] = {
    "k": _TEXT,
    "event_id": _TEXT,
    "deployment_id": _TEXT,
    "model_version_id": _TEXT,
    "user_id": _TEXT,
    "prompt": _TEXT,
    "response": _TEXT,
    "latency_ms": pl.Float64,
    "token_count": pl.Int64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "trace_id": _TEXT,
    "session_id": _TEXT,
    "metadata": _TEXT,
    "timestamp_us": pl.Int64,
    "pii_version": _TEXT,  # the pattern set the SDK redacted with (null: not redacted)
    "signal_id": _TEXT,
    "signal_type": _TEXT,
    "edited_response": _TEXT,
    "id": _TEXT,
    "kind": _TEXT,
    "reason": _TEXT,
    "payload": _TEXT,
    "received_us": pl.Int64,
}
KIND_COLUMNS: dict[str, list[str]] = {
    "e": list(LINE_SCHEMA)[1:16],
    "s": ["signal_id", "event_id", "signal_type", "user_id", "edited_response", "metadata"]
    + ["timestamp_us"],
    "d": ["id", "kind", "reason", "payload", "received_us"],
}


# The store's NOT NULL columns per kind.
REQUIRED: dict[str, list[str]] = {
    "e": ["event_id", "deployment_id", "prompt", "response", "metadata", "timestamp_us"],
    "s": ["signal_id", "event_id", "signal_type", "metadata", "timestamp_us"],
    "d": KIND_COLUMNS["d"],
}


@dataclass
class ParsedSegment:
    events: pl.DataFrame
    signals: pl.DataFrame
    dead_letters: pl.DataFrame
    corrupt_lines: int = 0


class SpoolFull(RuntimeError):
    """overflow="reject" and the spool holds max_spool_bytes: nothing of the call was spooled."""


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class Spool:
    """Owns an active segment plus closed segments waiting for the store."""

    def __init__(self, directory: Path, fsync: bool = False) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self.fsync = fsync
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._lock = threading.Lock()
        self._active: Segment | None = None
        self.pending: list[Segment] = []

    # -- writer side (caller threads) -------------------------------------------------------------
    def append(self, lines: bytes, count: int) -> int:
        """Append newline-terminated records; returns the active segment's record count."""
        with self._lock:
            seg = self._active or self._open_segment()
            os.write(seg.fd, lines)
            if self.fsync:
                os.fsync(seg.fd)
            seg.records += count
            seg.bytes += len(lines)
            return seg.records

    def _open_segment(self) -> Segment:
        self._seq += 1
        path = self.directory / f"{self._owner}-{self._seq:08d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _lock(fd)
        self._active = Segment(path, fd)
        return self._active

    def rotate(self) -> Segment | None:
        """Close the active segment for flushing (it stays locked until deleted); returns it."""
        with self._lock:
            if self._active is not None and self._active.records:
                closed, self._active = self._active, None
                self.pending.append(closed)
                return closed
            return None

    def total_bytes(self) -> int:
        with self._lock:
            active = self._active.bytes if self._active else 0
            return active + sum(s.bytes for s in self.pending)

    def has_data(self) -> bool:
        with self._lock:
            return bool(self.pending) or bool(self._active and self._active.records)

    def adopt_orphans(self) -> int:
        """Take over segments left by dead clients (nobody holds their lock)."""
        adopted = 0
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if path.name.startswith(self._owner):
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            if not _lock(fd):
                os.close(fd)
                continue
            size = os.fstat(fd).st_size
            with self._lock:
                self.pending.insert(0, Segment(path, fd, records=-1, bytes=size))
            adopted += 1
        return adopted

    def done(self, segment: Segment) -> None:
        """The segment's records are in the store: delete it, then release its lock."""
        with self._lock:
            if segment in self.pending:
                self.pending.remove(segment)
        segment.path.unlink(missing_ok=True)
        segment.close()

    def drop_oldest(self) -> Segment | None:
        with self._lock:
            if not self.pending:
                return None
            segment = self.pending.pop(0)
        segment.path.unlink(missing_ok=True)
        segment.close()
        return segment

    def forget_inherited(self) -> None:
        """In a forked child: close the child's copies of the parent's segment fds. The parent
        keeps its segments and locks (a flock lives while any copy is open, so the child must
        not keep them: a dead parent's segments would stay locked from replay)."""
        segments = [*self.pending, *([self._active] if self._active else [])]
        self.pending, self._active = [], None
        self._lock = threading.Lock()
        for seg in segments:
            seg.close()

    def release(self) -> None:
        """Release our locks without deleting: leftovers are replayed by the next client."""
        with self._lock:
            segments = [*self.pending, *([self._active] if self._active else [])]
            self.pending, self._active = [], None
        for seg in segments:
            if seg.records == 0:
                seg.path.unlink(missing_ok=True)
            seg.close()


def read_segments(paths: list[Path]) -> ParsedSegment:
    """Parse spool segments into one frame per record kind: row lines with polars' NDJSON
    reader, column-batch ("E") lines with orjson straight into a frame.

    A torn last line (a kill mid-write) is counted in corrupt_lines; everything before it is
    intact because every append ends with a newline.
    """
    blobs, corrupt = [], 0
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        cut = data.rfind(b"\n") + 1
        if data[cut:].strip():
            corrupt += 1
        blobs.append(data[:cut])
    body = b"".join(blobs)
    batches: list[pl.DataFrame] = []
    if BATCH_PREFIX in body:  # quotes inside JSON strings are escaped: only line starts match
        body, batches, bad = _split_batches(body)
        corrupt += bad
    parts, bad = _parse_rows(body)
    corrupt += bad
    if batches:
        parts["e"] = pl.concat([parts["e"], *batches]) if parts["e"].height else pl.concat(batches)
    for kind, frame in parts.items():
        # A record missing a required value would fail its whole insert, forever: count it.
        if any(frame.get_column(c).has_nulls() for c in REQUIRED[kind]):
            complete = frame.drop_nulls(REQUIRED[kind])
            corrupt += frame.height - complete.height
            parts[kind] = complete
    return ParsedSegment(parts["e"], parts["s"], parts["d"], corrupt)


def _parse_rows(body: bytes) -> tuple[dict[str, pl.DataFrame], int]:
    """One frame per kind from row lines, and the count of lines that are no record."""
    if not body.strip():
        return {
            k: pl.DataFrame(schema={c: LINE_SCHEMA[c] for c in cols})
            for k, cols in KIND_COLUMNS.items()
        }, 0
    bad = 0
    try:
        frame = _parse(body)
    except (pl.exceptions.PolarsError, ValueError):
        body, bad = _good_lines(body)
        frame = _parse(body)
    kinds = frame.get_column("k")
    bad += int((~kinds.is_in(list(KIND_COLUMNS)) | kinds.is_null()).sum())
    return {k: frame.filter(kinds == k).select(cols) for k, cols in KIND_COLUMNS.items()}, bad


BATCH_PREFIX = b'{"k":"E",'  # a batch of events as columns, see lines.LineEncoder
_EVENT_SCHEMA = {name: LINE_SCHEMA[name] for name in KIND_COLUMNS["e"] if name != "pii_version"}


def _split_batches(body: bytes) -> tuple[bytes, list[pl.DataFrame], int]:
    """Take the "E" lines out of `body`: (the other lines, one frame per batch, bad batches)."""
    rows, frames, bad = [], [], 0
    for line in body.split(b"\n"):
        if not line.startswith(BATCH_PREFIX):
            if line:
                rows.append(line)
            continue
        try:
            record = orjson.loads(line)
            cols, version = record["cols"], record.get("v")
            if cols.keys() != _EVENT_SCHEMA.keys():
                raise ValueError("columns differ")
            frame = pl.DataFrame(cols, schema=_EVENT_SCHEMA)
            frames.append(frame.with_columns(pii_version=pl.lit(version, dtype=_TEXT)))
        except (
            orjson.JSONDecodeError,
            AttributeError,
            KeyError,
            TypeError,
            ValueError,
            pl.exceptions.PolarsError,
        ):
            bad += 1
    return (b"\n".join(rows) + b"\n" if rows else b""), frames, bad


def _parse(body: bytes) -> pl.DataFrame:
    if not body.strip():
        return pl.DataFrame(schema=LINE_SCHEMA)
    return pl.read_ndjson(io.BytesIO(body), schema=LINE_SCHEMA)


def _good_lines(body: bytes) -> tuple[bytes, int]:
    """The slow path for a damaged segment: keep the lines that parse as spool records."""
    good, bad = [], 0
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            ok = isinstance(record, dict) and record.get("k") in KIND_COLUMNS
        except orjson.JSONDecodeError:
            ok = False
        if ok:
            good.append(line)
        else:
            bad += 1
    return b"\n".join(good) + b"\n", bad
