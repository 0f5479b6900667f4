"""FeedbackClient: the SDK apps use. Batched, non-blocking, durable.

log_inference validates, sanitizes and appends to the local spool (one unbuffered write), then
returns; a background thread moves spooled segments into the feedback store by size
(max_batch_size) and by time (flush_interval), on flush(), on close() and at exit. A store outage
only delays delivery: segments stay on disk and are retried with backoff, and leftovers of a
killed app are replayed by the next client on the same data directory.

delivery="process" runs the parsing and inserts in a child process (the thread only hands it
segment paths and waits), so the app's thread keeps its core and the GIL for validating,
redacting and appending. The app keeps the segments' locks either way: if it is killed, the
child exits and the next client replays the segments.
"""

from __future__ import annotations

import atexit
import multiprocessing.util as mp_util
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from feedback_assets.client.delivery import DeliveryProcess, deliver_segments
from feedback_assets.client.lines import Accepted, LineEncoder
from feedback_assets.client.spool import Segment, Spool, SpoolFull
from feedback_assets.client.telemetry import Telemetry
from feedback_assets.client.telemetry import telemetry as default_telemetry
from feedback_assets.domain.ingest.validate import ValidationError, validate_event, validate_signal
from feedback_assets.domain.ingest.validate_batch import validate_event_batch
from feedback_assets.domain.ingest.values import utf8_ok
from feedback_assets.domain.pii.sanitize import pii_rules
from feedback_assets.settings import Settings, load_settings, resolve_hash_key

# What a full spool does to a new record: wait for delivery, drop the oldest segment, or refuse
# the call at once with SpoolFull (a server answering 429 instead of holding its request).
Overflow = Literal["block", "drop_oldest", "reject"]
Delivery = Literal["thread", "process"]
DELIVERY_BYTES = 16 << 20  # spool bytes per store round trip: bounds delivery memory
SMALL_BATCH = 64  # fewer events are validated row by row (see LineEncoder.row_lines)
BATCH_ROWS = 10_000  # events per spool write in log_inferences (a line of ~10 MB at 1 KB each)
_CLIENTS: weakref.WeakSet[FeedbackClient] = weakref.WeakSet()


class FeedbackClient:
    def __init__(
        self,
        store_url: str | None = None,
        *,
        data_dir: str | Path | None = None,
        max_batch_size: int = 1000,
        flush_interval: float = 5.0,
        max_spool_bytes: int = 1 << 30,
        overflow: Overflow = "block",
        sanitize_at_source: bool = True,
        raise_on_invalid: bool = True,
        spool_fsync: bool = False,
        telemetry: Telemetry | None = None,
        settings: Settings | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        settings = settings or load_settings()
        delivery_mode: str = delivery or settings.delivery
        self.settings = settings
        self.store_url = store_url or settings.store_url
        data_dir = Path(data_dir) if data_dir else settings.data_dir
        if delivery_mode not in ("thread", "process"):
            raise ValueError(f"delivery: must be 'thread' or 'process', got {delivery_mode!r}")
        if overflow not in ("block", "drop_oldest", "reject"):
            raise ValueError(
                f"overflow: must be 'block', 'drop_oldest' or 'reject', got {overflow!r}"
            )
        self.max_batch_size = max_batch_size
        self.flush_interval = flush_interval
        self.max_spool_bytes = max_spool_bytes
        self.overflow = overflow
        self.sanitize_at_source = sanitize_at_source
        self.raise_on_invalid = raise_on_invalid
        self.telemetry = telemetry or default_telemetry
        self._patterns = pii_rules(settings.pii_patterns, settings.pii_stages)
        self._hash_key = resolve_hash_key(data_dir, settings.production)
        self.stats: Counter[str] = Counter()
        self._lines = LineEncoder(self._patterns, self._hash_key, sanitize_at_source, self.stats)
        self._spool = Spool(data_dir / "spool", fsync=spool_fsync)
        self._store: Any = None
        # "process": parsing and inserts run in a child process, off the app's GIL.
        self._delivery_mode = delivery_mode
        self._worker = DeliveryProcess(self.store_url) if delivery_mode == "process" else None
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._flushed = threading.Condition()
        self._closed = False
        self._stop = False
        adopted = self._spool.adopt_orphans()
        if adopted:
            self.telemetry.emit("ingestion.replay", count=adopted, segments=adopted)
        self._thread: threading.Thread | None = None
        self._start_thread()
        atexit.register(self.close)
        _CLIENTS.add(self)
        mp_util.register_after_fork(self, FeedbackClient._close_at_mp_child_exit)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="feedback-flusher", daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        """A forked child (gunicorn --preload worker, multiprocessing) gets its own spool,
        locks and delivery: the parent's thread does not exist here, its segments stay the
        parent's (the child closes its copies of their fds), and its worker process is not ours.
        The thread (and a delivery process) start on the child's first record."""
        old = self._spool
        self._spool = Spool(old.directory, fsync=old.fsync)
        old.forget_inherited()
        if self._worker is not None:
            self._worker.forget_inherited()
            self._worker = None
        self._store = None
        # Delivery parses with polars, whose thread pool does not survive a fork (a child of a
        # process that used it hangs): a forked child delivers through a fresh worker process.
        self._delivery_mode = "process"
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._flushed = threading.Condition()
        self._thread = None

    def _close_at_mp_child_exit(self) -> None:
        # A multiprocessing child ends with os._exit (no atexit): its finalizers close us.
        mp_util.Finalize(self, self.close, exitpriority=10)

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._closed:
            if self._delivery_mode == "process" and self._worker is None:
                self._worker = DeliveryProcess(self.store_url)
            self._start_thread()

    # -- public API -------------------------------------------------------------------------------
    def log_inference(self, event: Mapping[str, Any] | None = None, /, **fields: Any) -> str:
        """Accept one inference event; returns its event_id. Never waits on the store."""
        payload = _merged(event, fields)
        self._admit()
        try:
            record = validate_event(payload)
        except ValidationError as exc:
            return self._dead_letter("event", payload, exc, id_field="event_id")
        self._append(self._lines.event_line(record), 1)
        return str(record["event_id"])

    def log_inferences(self, events: Iterable[Mapping[str, Any]]) -> list[str | None]:
        """Accept many events; an invalid one is dead-lettered and None in the result."""
        return self.accept_inferences(events).ids

    def accept_inferences(self, events: Iterable[Mapping[str, Any]]) -> Accepted:
        """Accept many events: validated and redacted column-wise, spooled as one write per
        BATCH_ROWS events. Invalid ones are dead-lettered (reported by index); valid ones are
        never lost with them. Every row is validated, and every dead letter encoded, before
        anything is spooled, so a call that raises has spooled nothing and can be retried."""
        payloads = list(events)
        if len(payloads) < SMALL_BATCH:
            return self._accept_rows("event", payloads)
        self._admit()
        ids: list[str | None] = [None] * len(payloads)
        starts = range(0, len(payloads), BATCH_ROWS)
        batches = [validate_event_batch(payloads[s : s + BATCH_ROWS]) for s in starts]
        errors = [
            (start + i, exc)
            for start, b in zip(starts, batches, strict=True)
            for i, exc in b.errors
        ]
        dead = self._lines.dead_letter_lines("event", payloads, errors)
        for start, batch in zip(starts, batches, strict=True):
            if batch.table.num_rows:
                self._append(self._lines.event_batch_line(batch.table), batch.table.num_rows)
            event_ids = batch.table.column("event_id").to_pylist()
            for pos, event_id in zip(batch.positions.tolist(), event_ids, strict=True):
                ids[start + pos] = event_id
        self._append_dead_letters("event", dead, errors)
        return Accepted(ids, errors)

    def record_signal(
        self,
        event_id: str,
        signal_type: str,
        metadata: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        """Accept a user signal (thumbs_up, thumbs_down, regenerate, edit, copy, share, report)."""
        payload = {"event_id": event_id, "signal_type": signal_type, "metadata": metadata, **fields}
        self._admit()
        try:
            record = validate_signal(payload)
        except ValidationError as exc:
            return self._dead_letter("signal", payload, exc, id_field="signal_id")
        self._append(self._lines.signal_line(record), 1)
        return str(record["signal_id"])

    def record_user_edit(
        self,
        event_id: str,
        edited_response: str,
        metadata: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        return self.record_signal(
            event_id, "edit", metadata, edited_response=edited_response, **fields
        )

    def accept_signals(self, signals: Iterable[Mapping[str, Any]]) -> Accepted:
        """Many signals (payloads as record_signal's fields), spooled with one write; invalid
        ones are dead-lettered and reported by index, like accept_inferences."""
        return self._accept_rows("signal", list(signals))

    def _accept_rows(self, kind: str, payloads: list[Any]) -> Accepted:
        self._admit()
        lines, accepted = self._lines.row_lines(kind, payloads)
        dead = self._lines.dead_letter_lines(kind, payloads, accepted.errors)
        self._append(lines, accepted.count)
        self._append_dead_letters(kind, dead, accepted.errors)
        return accepted

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Deliver everything accepted so far; True when the spool is empty."""
        self._ensure_thread()
        self._rotate()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._flushed:
            while self._spool.has_data():
                self._wake.set()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._flushed.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def close(self, timeout: float = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        delivered = self.flush(timeout)
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # Undelivered segments stay on disk for the next client to replay.
        self._spool.release()
        if not delivered:
            self.telemetry.emit("ingestion.undelivered_at_close", count=1)
        if self._worker is not None:
            self._worker.close()
        if self._store is not None:
            self._store.dispose()
        atexit.unregister(self.close)

    def __enter__(self) -> FeedbackClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- caller side ------------------------------------------------------------------------------
    def _clean(self, value: Any) -> Any:
        return self._lines.clean(value)

    def _hash(self, user_id: str | None) -> str | None:
        return self._lines.hash(user_id)

    def _dead_letter(
        self,
        kind: str,
        payload: Any,
        exc: ValidationError,
        id_field: str,
        raise_: bool | None = None,
    ) -> str:
        line, record_id = self._lines.dead_letter_line(kind, payload, exc)
        self._append(line, 1)
        self._count_invalid(kind, exc)
        if self.raise_on_invalid if raise_ is None else raise_:
            raise exc
        try:
            given = payload.get(id_field) if isinstance(payload, Mapping) else None
        except Exception:  # a hostile Mapping
            given = None
        return given if isinstance(given, str) and given and utf8_ok(given) else record_id

    def _append_dead_letters(
        self, kind: str, lines: list[bytes], errors: list[tuple[int, ValidationError]]
    ) -> None:
        for line, (_, exc) in zip(lines, errors, strict=True):
            self._append(line, 1)
            self._count_invalid(kind, exc)

    def _count_invalid(self, kind: str, exc: ValidationError) -> None:
        self.stats[f"invalid.{kind}"] += 1
        self.telemetry.emit("ingestion.invalid", count=1, kind=kind, fields=exc.fields)

    def _admit(self) -> None:
        """overflow="reject": refuse a call while the spool is full, before spooling any of it."""
        if self.overflow == "reject" and self._spool.total_bytes() >= self.max_spool_bytes:
            self.stats["rejected_full"] += 1
            self._rotate()
            self._wake.set()
            raise SpoolFull(f"the spool holds {self.max_spool_bytes} bytes or more")

    def _append(self, lines: bytes, count: int) -> None:
        if not count:
            return
        if self._closed:
            raise RuntimeError("FeedbackClient is closed")
        self._ensure_thread()
        if self.overflow != "reject":
            self._make_room()
        records = self._spool.append(lines, count)
        self.stats["accepted"] += count
        if records >= self.max_batch_size:
            self._wake.set()

    def _make_room(self) -> None:
        while self._spool.total_bytes() >= self.max_spool_bytes:
            if self.overflow == "drop_oldest":
                self._spool.rotate()
                dropped = self._spool.drop_oldest()
                if dropped is None:
                    return
                self.stats["dropped_segments"] += 1
                self.telemetry.emit("ingestion.dropped", count=1, bytes=dropped.bytes)
            else:
                self.stats["blocked"] += 1
                self._wake.set()
                with self._space:
                    self._space.wait(0.05)

    # -- flusher thread -----------------------------------------------------------------------------
    def _rotate(self) -> None:
        closed = self._spool.rotate()
        if closed is not None:
            self.telemetry.emit("ingestion.spooled", count=closed.records, bytes=closed.bytes)

    def _run(self) -> None:
        backoff = 0.1
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._rotate()
            try:
                self._deliver_pending()
                backoff = 0.1
            except Exception as exc:  # store outage: keep segments, retry with backoff
                self.stats["store_errors"] += 1
                error = getattr(exc, "kind", type(exc).__name__)
                self.telemetry.emit("ingestion.store_error", count=1, error=error)
                self._store = None
                if self._stop:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._wake.set()
            if self._stop:
                return

    def _deliver_pending(self) -> None:
        while self._spool.pending:
            # Several segments per insert: per-statement and per-commit costs are paid once.
            batch: list[Segment] = []
            size = 0
            for segment in list(self._spool.pending):
                if batch and size + max(segment.bytes, 0) > DELIVERY_BYTES:
                    break
                batch.append(segment)
                size += max(segment.bytes, 0)
            paths = [s.path for s in batch]
            if self._worker is not None:
                counts = self._worker.deliver(paths)
            else:
                if self._store is None:
                    from feedback_assets.store import FeedbackStore

                    self._store = FeedbackStore(self.store_url)
                counts = deliver_segments(self._store, paths)
            for segment in batch:
                self._spool.done(segment)
            self.stats.update(counts)
            self.telemetry.emit("ingestion.flush", count=counts.get("events", 0), **counts)
            with self._space:
                self._space.notify_all()
            with self._flushed:
                self._flushed.notify_all()


def _merged(event: Any, fields: dict[str, Any]) -> Any:
    """log_inference's payload: the event mapping and keyword fields together; anything that is
    not a mapping is passed on as is, for validation to reject by name."""
    if event is None:
        return fields
    if not isinstance(event, Mapping):
        return event
    try:
        return {**event, **fields}
    except Exception:  # a Mapping whose keys() or __getitem__ raises
        return event


def _clients_after_fork() -> None:
    for client in list(_CLIENTS):
        if not client._closed:
            client._after_fork_in_child()


os.register_at_fork(after_in_child=_clients_after_fork)
