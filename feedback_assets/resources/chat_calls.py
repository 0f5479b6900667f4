"""One chat completion through an OpenAI-compatible endpoint, with our own retries.

Shared by the model evaluator and the pairwise judge: exponential backoff with jitter on
429/5xx/timeouts/connection errors (honouring Retry-After), a circuit breaker across the calls
of one run, counters for the cost metadata, and secrets removed from every error text.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import openai

from feedback_assets.resources.circuit import CircuitBreaker

RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


@dataclass
class CallCounters:
    calls: int = 0  # answers asked for (retries excluded)
    requests: int = 0  # HTTP requests, retries included
    retries: int = 0
    tokens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def metadata(self, prefix: str) -> dict[str, int]:
        return {
            f"{prefix}_calls": self.calls,
            f"{prefix}_requests": self.requests,
            f"{prefix}_retries": self.retries,
            f"{prefix}_tokens": self.tokens,
        }


# The request itself was refused (a prompt too long for the model's context, say): a fact
# about that prompt, not about the endpoint's health.
REFUSED = (openai.BadRequestError, openai.UnprocessableEntityError)


@dataclass(frozen=True)
class ChatReply:
    status: Literal["ok", "failed", "refused", "skipped_circuit"]
    content: str | None = None
    error: str = ""


@dataclass
class ChatCaller:
    client: openai.OpenAI
    circuit: CircuitBreaker
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    redact: Callable[[str], str] = lambda text: text
    counters: CallCounters = field(default_factory=CallCounters)

    def _backoff(self, attempt: int, exc: Exception) -> float:
        delay = min(self.backoff_max_s, self.backoff_base_s * 2**attempt)
        delay *= 0.5 + random.random() / 2  # jitter spreads concurrent retries
        if isinstance(exc, openai.RateLimitError):
            after = exc.response.headers.get("retry-after")
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(after), self.backoff_max_s)) if after else delay
        return delay

    def _error(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {self.redact(str(exc))[:200]}"

    def chat(
        self, model: str, messages: list[dict[str, str]], estimate: int = 0, **params: Any
    ) -> ChatReply:
        """One answer; `estimate` counts as its tokens when the reply reports no usage."""
        with self.counters.lock:
            self.counters.calls += 1
        last = ""
        for attempt in range(self.max_retries + 1):
            if self.circuit.open:  # the endpoint is down: no more requests this run
                return ChatReply("skipped_circuit", error=self.circuit.reason or "")
            with self.counters.lock:
                self.counters.requests += 1
                self.counters.retries += attempt > 0
            try:
                out = self.client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]
                    **params,
                )
            except RETRYABLE as exc:
                last = self._error(exc)
                self.circuit.failure(last)
                if attempt < self.max_retries and not self.circuit.open:
                    time.sleep(self._backoff(attempt, exc))
                continue
            except REFUSED as exc:
                self.circuit.success()  # the endpoint answered
                return ChatReply("refused", error=self._error(exc))
            except openai.APIError as exc:
                return ChatReply("failed", error=self._error(exc))
            self.circuit.success()
            with self.counters.lock:
                self.counters.tokens += out.usage.total_tokens if out.usage else estimate
            content = out.choices[0].message.content if out.choices else None
            return ChatReply("ok", content=content or "")
        return ChatReply("failed", error=f"gave up after {self.max_retries + 1} tries: {last}")
