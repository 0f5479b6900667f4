"""Move spooled segments into the feedback store (idempotent, bulk), in-thread or in a child process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

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


class DeliveryError(RuntimeError):
    """The delivery worker could not store a batch; `kind` is the underlying error's type."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def _short_error(exc: Exception) -> dict[str, str]:
    # Type and the first line only: driver errors may quote row values.
    text = str(exc)
    return {"error": type(exc).__name__, "message": text.splitlines()[0][:200] if text else ""}


def worker_main() -> None:
    """The delivery process: reads JSON lines on stdin (first the store URL, then lists of
    segment paths) and answers each list with counts or an error on its original stdout."""
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    first = requests.readline()
    if not first:
        return
    store_url = orjson.loads(first)["url"]
    from feedback_assets.store import FeedbackStore

    store = None
    with contextlib.suppress(Exception):  # connect early; an outage is retried per batch
        store = FeedbackStore(store_url)
    for line in requests:  # EOF: the app closed or died; its segments wait for a replay
        try:
            if store is None:
                store = FeedbackStore(store_url)
            paths = [Path(p) for p in orjson.loads(line)]
            reply: dict[str, Any] = {"ok": dict(deliver_segments(store, paths))}
        except Exception as exc:  # outage: the app keeps the segments and retries
            if store is not None:
                store.dispose()
                store = None
            reply = _short_error(exc)
        try:
            replies.write(orjson.dumps(reply) + b"\n")
        except OSError:
            break
    if store is not None:
        store.dispose()


class DeliveryProcess:
    """Runs deliver_segments in a child process, so parsing and inserts use another core and
    never hold the app's GIL. The app keeps ownership (locks) of its segments.

    A plain `python -m` child (not multiprocessing): it never re-imports the app's main
    module, gets the store URL on stdin (not argv, where `ps` would show a password), and runs
    in its own session so a Ctrl-C aimed at the app does not kill a delivery mid-way.
    """

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._proc: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "feedback_assets.client.delivery_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self._send({"url": self.store_url})

    def _send(self, message: Any) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(orjson.dumps(message) + b"\n")
        self._proc.stdin.flush()

    def deliver(self, paths: list[Path]) -> Counter[str]:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self._start()
        assert self._proc is not None and self._proc.stdout is not None
        try:
            self._send([str(p) for p in paths])
            line = self._proc.stdout.readline()
        except OSError as exc:
            line = b""
            error = type(exc).__name__
        else:
            error = "EOF"
        if not line:  # the worker died: restarted on the next try
            self.close()
            raise DeliveryError("DeliveryProcessDied", error)
        reply = orjson.loads(line)
        if "error" in reply:
            raise DeliveryError(reply["error"], reply["message"])
        return Counter(reply["ok"])

    def forget_inherited(self) -> None:
        """In a forked child: drop the parent's worker without closing it (its pipes stay
        open in the parent; the child only closes its own copies)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()
        proc.returncode = 0  # never waited on here: it is the parent's child, not ours

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def close(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # EOF: the worker finishes its batch and exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()


_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
