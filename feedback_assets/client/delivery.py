"""Move spooled segments into the feedback store (idempotent, bulk), in-thread or in a child process."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from feedback_assets.client.spool import read_segments


def deliver_segments(store: Any, paths: list[Path]) -> Counter[str]:
    """Insert every record of `paths` (one bulk insert per kind); returns inserted/dup counts."""
    parsed = read_segments(paths)
    counts: Counter[str] = Counter()
    for name, frame, insert in (
        ("events", parsed.events, store.insert_events),
        ("signals", parsed.signals, store.insert_signals),
        ("dead_letters", parsed.dead_letters, store.insert_dead_letters),
    ):
        if frame.height:
            result = insert(frame)
            counts[name] += result.inserted
            counts[f"{name}_duplicates"] += result.duplicates
    if parsed.corrupt_lines:
        counts["corrupt_lines"] += parsed.corrupt_lines
    return counts


def deliver_segment(store: Any, path: Path) -> Counter[str]:
    return deliver_segments(store, [path])


class DeliveryError(RuntimeError):
    """The delivery worker could not store a batch; `kind` is the underlying error's type."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def _worker(conn: Connection, store_url: str) -> None:
    """Delivery process: receives lists of segment paths, replies with counts or an error."""
    from feedback_assets.store import FeedbackStore

    store = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the app is gone: its segments wait for the next client
            break
        if message is None:
            break
        try:
            if store is None:
                store = FeedbackStore(store_url)
            counts = deliver_segments(store, [Path(p) for p in message])
            conn.send(("ok", dict(counts)))
        except Exception as exc:  # outage: the client keeps the segments and retries
            if store is not None:
                store.dispose()
                store = None
            # Type and a short message only: driver errors may quote row values.
            conn.send(
                ("error", type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
            )
    if store is not None:
        store.dispose()


class DeliveryProcess:
    """Runs deliver_segments in a child process, so parsing and inserts use another core
    and never hold the app's GIL. The app keeps ownership (locks) of its segments."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that runs threads
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_worker, args=(child, self.store_url), name="feedback-delivery", daemon=True
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def deliver(self, paths: list[Path]) -> Counter[str]:
        if self._proc is None or not self._proc.is_alive() or self._conn is None:
            self.close()
            self._start()
        assert self._conn is not None
        try:
            self._conn.send([str(p) for p in paths])
            reply = self._conn.recv()
        except (EOFError, OSError) as exc:  # the worker died: restart it on the next try
            self.close()
            raise DeliveryError("DeliveryProcessDied", type(exc).__name__) from exc
        if reply[0] == "error":
            raise DeliveryError(reply[1], reply[2])
        return Counter(reply[1])

    def close(self, timeout: float = 5.0) -> None:
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
            conn.close()
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout)
