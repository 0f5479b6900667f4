"""A circuit breaker for remote endpoints (judge, embedder, launchers).

After `threshold` consecutive failed requests the circuit opens: every later call in the same
run is skipped at once, with a reason that names the endpoint and its last error, instead of
each call paying its own timeouts and retries against an endpoint that is down.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

DEFAULT_THRESHOLD = 5


class CircuitOpenError(RuntimeError):
    """The endpoint failed too often in a row; the call was not attempted."""


@dataclass
class CircuitBreaker:
    name: str
    threshold: int = DEFAULT_THRESHOLD
    failures: int = 0  # consecutive
    reason: str | None = None  # set once open
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def open(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        """Raise CircuitOpenError if the circuit is open."""
        if self.reason is not None:
            raise CircuitOpenError(self.reason)

    def success(self) -> None:
        with self._lock:
            self.failures = 0

    def failure(self, error: str) -> None:
        with self._lock:
            self.failures += 1
            if self.reason is None and self.failures >= max(1, self.threshold):
                self.reason = (
                    f"{self.name}: circuit open after {self.failures} consecutive failures "
                    f"(last: {error[:200]}); skipped for the rest of the run"
                )

    def metadata(self) -> dict[str, Any]:
        return {
            f"{self.name}_circuit_open": self.open,
            f"{self.name}_circuit_reason": self.reason or "",
        }
