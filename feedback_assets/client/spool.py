"""The local spool: append-only JSON-lines segments that make accepted records durable.

A record is written with one unbuffered `write` before `log_inference` returns, so it survives a
SIGKILL of the app (it is in the kernel). Each segment stays flock-ed by its owner until it is
flushed and deleted; a segment nobody holds belongs to a dead client and is replayed. Replays are
harmless twice over: inserts are idempotent on event_id / signal_id / dead-letter id.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

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


@dataclass
class ParsedSegment:
    events: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    corrupt_lines: int = 0


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

    def rotate(self) -> None:
        """Close the active segment for flushing (it stays locked until deleted)."""
        with self._lock:
            if self._active is not None and self._active.records:
                self.pending.append(self._active)
                self._active = None

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

    def release(self) -> None:
        """Release our locks without deleting: leftovers are replayed by the next client."""
        with self._lock:
            segments = [*self.pending, *([self._active] if self._active else [])]
            self.pending, self._active = [], None
        for seg in segments:
            if seg.records == 0:
                seg.path.unlink(missing_ok=True)
            seg.close()


def read_segment(path: Path) -> ParsedSegment:
    parsed = ParsedSegment()
    for line in _lines(path):
        try:
            record = orjson.loads(line)
            kind = record.pop("k")
        except (orjson.JSONDecodeError, KeyError, AttributeError):
            # A torn last line from a kill mid-write; everything before it is intact.
            parsed.corrupt_lines += 1
            continue
        {"e": parsed.events, "s": parsed.signals, "d": parsed.dead_letters}[kind].append(record)
    return parsed


def _lines(path: Path) -> Iterator[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    for line in data.split(b"\n"):
        if line:
            yield line
