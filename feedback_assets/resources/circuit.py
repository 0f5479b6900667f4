"""A circuit breaker for remote endpoints (judge, embedder, evaluator, launchers).

After `threshold` consecutive failed requests the circuit opens: every later call in the same
run is skipped at once, with a reason that names the endpoint and its last error, instead of
each call paying its own timeouts and retries against an endpoint that is down.

With a `state_file`, an open circuit is also remembered across runs and processes for
`cooldown_s`: a backfill of 40 partitions against a hung judge pays the timeouts once, not 40
times. After the cooldown the next run tries again (half-open): one failure re-opens it, one
success closes it and forgets the state.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLD = 5
DEFAULT_COOLDOWN_S = 300.0


class CircuitOpenError(RuntimeError):
    """The endpoint failed too often in a row; the call was not attempted."""


@dataclass
class CircuitBreaker:
    name: str
    threshold: int = DEFAULT_THRESHOLD
    failures: int = 0  # consecutive
    reason: str | None = None  # set once open
    state_file: Path | None = None  # shared across runs when set
    cooldown_s: float = DEFAULT_COOLDOWN_S
    half_open: bool = False  # an earlier run opened it and its cooldown is over
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        saved = self._read_state()
        if saved is None:
            return
        until = float(saved.get("open_until", 0))
        if until > time.time():
            when = datetime.fromtimestamp(until, UTC).strftime("%H:%M:%S UTC")
            self.reason = (
                f"{self.name}: circuit opened by an earlier run ({saved.get('reason', '')[:200]}); "
                f"skipped until {when}"
            )
        else:
            self.half_open = True

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
            if self.half_open:
                self.half_open = False
                self._forget_state()

    def failure(self, error: str) -> None:
        with self._lock:
            self.failures += 1
            limit = 1 if self.half_open else max(1, self.threshold)
            if self.reason is None and self.failures >= limit:
                self.reason = (
                    f"{self.name}: circuit open after {self.failures} consecutive failures "
                    f"(last: {error[:200]}); skipped for the rest of the run"
                )
                self._write_state(error)

    def metadata(self) -> dict[str, Any]:
        return {
            f"{self.name}_circuit_open": self.open,
            f"{self.name}_circuit_reason": self.reason or "",
        }

    # -- shared state ---------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any] | None:
        if self.state_file is None:
            return None
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or half-written: behave as closed
        return data if isinstance(data, dict) else None

    def _write_state(self, error: str) -> None:
        if self.state_file is None:
            return
        state = {"reason": error[:300], "open_until": time.time() + self.cooldown_s}
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}")
            tmp.write_text(json.dumps(state), encoding="utf-8")
            os.replace(tmp, self.state_file)  # readers see the old state or the new, never half
        except OSError:
            pass  # the in-run circuit still holds; only the memory across runs is lost

    def _forget_state(self) -> None:
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)


def shared_circuit(
    name: str, threshold: int, state_dir: str | None, cooldown_s: float = DEFAULT_COOLDOWN_S
) -> CircuitBreaker:
    """A breaker remembered across runs under state_dir (in-run only without one)."""
    path = Path(state_dir) / f"{name}.json" if state_dir else None
    return CircuitBreaker(name, threshold, state_file=path, cooldown_s=cooldown_s)
