"""Request/result shapes shared by every launcher, plus retry and output hygiene helpers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

from feedback_assets.resources.circuit import DEFAULT_THRESHOLD, CircuitBreaker

T = TypeVar("T")

MAX_OUTPUT_CHARS = 8000
REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class LaunchRequest:
    deployment_id: str
    export_batch_id: str
    export_dir: str
    files: Mapping[str, str]  # export format -> path (file, or directory for hf_dataset)
    manifest_path: str
    new_model_version_id: str
    base_model_version_id: str | None = None
    reasons: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class LaunchResult:
    status: Literal["succeeded", "failed"]
    job_id: str | None
    new_model_version_id: str | None
    started_at: datetime
    finished_at: datetime
    output: str  # captured, truncated, secrets replaced
    error: str | None
    attempts: int

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def utcnow() -> datetime:
    return datetime.now(UTC)


class TransientError(Exception):
    """A failure worth retrying: connection errors, timeouts, 429 and 5xx."""


class Redactor:
    """Replaces every configured secret in text; secrets never reach output or errors."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, REDACTED)
        return text


def truncate(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Keep the tail: the end of a training log says how it finished."""
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit:,} chars truncated ...]\n" + text[-limit:]


class Retrier:
    """Calls with exponential backoff on TransientError; counts attempts across calls.

    A circuit breaker spans the calls of one launch: after `circuit_failures` transient errors
    in a row (a polling loop against a dead API), every call fails at once with the reason.
    """

    def __init__(
        self,
        max_retries: int,
        backoff_s: float,
        sleep: Callable[[float], None] = time.sleep,
        circuit_failures: int = DEFAULT_THRESHOLD,
    ) -> None:
        self.circuit = CircuitBreaker("launcher", circuit_failures)
        self.max_retries = max(0, max_retries)
        self.backoff_s = max(0.0, backoff_s)
        self.attempts = 0
        self.log: list[str] = []
        self._sleep = sleep

    def call(self, what: str, fn: Callable[[], T]) -> T:
        for retry in range(self.max_retries + 1):
            if self.circuit.open:
                raise TransientError(self.circuit.reason)
            self.attempts += 1
            try:
                result = fn()
            except TransientError as exc:
                self.circuit.failure(f"{what}: {exc}")
                if self.circuit.open:
                    raise TransientError(self.circuit.reason) from exc
                if retry == self.max_retries:
                    raise
                delay = self.backoff_s * (2**retry)
                self.log.append(f"{what}: transient error ({exc}); retry in {delay:.2f}s")
                self._sleep(delay)
            else:
                self.circuit.success()
                return result
        raise AssertionError("unreachable: the loop returns or raises")


def failed(
    started: datetime, error: str, output: str = "", attempts: int = 1, job_id: str | None = None
) -> LaunchResult:
    return LaunchResult(
        status="failed",
        job_id=job_id,
        new_model_version_id=None,
        started_at=started,
        finished_at=utcnow(),
        output=output,
        error=error,
        attempts=attempts,
    )
