"""Named telemetry events (ingestion.flush, ingestion.invalid, ...) with counts.

Delivered to registered handlers and to `logging` (logger `feedback_assets.telemetry`).
Payloads carry counts and reasons only: never prompt text, user ids or keys.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

Handler = Callable[[str, dict[str, Any]], None]
_log = logging.getLogger("feedback_assets.telemetry")


class Telemetry:
    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()
        self.counters: Counter[str] = Counter()

    def register(self, handler: Handler) -> Callable[[], None]:
        """Add a handler; returns a function that removes it."""
        with self._lock:
            self._handlers.append(handler)
        return lambda: self._remove(handler)

    def _remove(self, handler: Handler) -> None:
        with self._lock:
            if handler in self._handlers:
                self._handlers.remove(handler)

    def emit(self, name: str, **payload: Any) -> None:
        with self._lock:
            self.counters[name] += int(payload.get("count", 1))
            handlers = list(self._handlers)
        level = logging.WARNING if name.endswith(("error", "dropped")) else logging.DEBUG
        _log.log(level, "%s %s", name, payload)
        for handler in handlers:
            try:
                handler(name, payload)
            except Exception:  # a broken handler must never break ingestion
                _log.exception("telemetry handler failed for %s", name)


telemetry = Telemetry()


def _new_lock_in_child() -> None:
    telemetry._lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_new_lock_in_child)
