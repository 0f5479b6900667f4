"""The evaluation gate's endpoint and thresholds: one resource, shown on the UI's resource page.

It asks the candidate and the current model (model names at one OpenAI-compatible endpoint)
for answers to the eval prompts, concurrently, with capped retries and a circuit breaker,
and holds the thresholds of the paired test and of the post-promotion regression watch.
Base URL and key default to the OpenAI fine-tune launcher's (defs/resources.py).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import openai
from pydantic import Field

from feedback_assets.domain.evaluation.model_regression import RegressionConfig
from feedback_assets.domain.evaluation.paired_test import GateConfig, InconclusiveRule
from feedback_assets.resources.chat_calls import CallCounters, ChatCaller
from feedback_assets.resources.circuit import DEFAULT_THRESHOLD, CircuitBreaker
from feedback_assets.settings import openai_api_key_fallback


@dataclass
class AnswerRun:
    """answers[i] is None where the endpoint failed or refused the prompt; errors names the
    failures (first few), `refused` the prompts the endpoint rejected as requests (4xx)."""

    answers: list[str | None]
    errors: list[str] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    counters: CallCounters = field(default_factory=CallCounters)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(a is None for a in self.answers)


class ModelEvaluatorResource(dg.ConfigurableResource):
    """Pass the key as `api_key=dg.EnvVar("FEEDBACK_EVAL_API_KEY")`; it is never logged."""

    base_url: str | None = Field(default=None, description="OpenAI-compatible API base URL")
    api_key: str | None = None
    max_prompts: int = Field(default=200, ge=1, description="eval prompts per comparison")
    max_concurrency: int = Field(default=4, ge=1)
    max_retries: int = Field(default=3, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    max_answer_tokens: int = Field(default=512, ge=1)
    circuit_failures: int = Field(default=DEFAULT_THRESHOLD, ge=1)
    alpha: float = Field(default=0.05, gt=0, lt=1, description="sign test significance")
    tie_margin: float = Field(default=0.02, ge=0, description="score differences that tie")
    min_prompts: int = Field(default=20, ge=1, description="fewer eval prompts: no promotion")
    on_inconclusive: InconclusiveRule = Field(
        default="promote_if_not_behind",
        description="no significant difference: promote_if_not_behind | promote | reject",
    )
    regression_alpha: float = Field(default=0.05, gt=0, lt=1)
    regression_min_events: int = Field(
        default=200, ge=1, description="answers per version before the regression watch judges"
    )

    def gate_config(self) -> GateConfig:
        return GateConfig(self.alpha, self.tie_margin, self.min_prompts, self.on_inconclusive)

    def regression_config(self) -> RegressionConfig:
        return RegressionConfig(self.regression_alpha, self.regression_min_events)

    def configured(self) -> bool:
        """An endpoint to call: a base URL, or OpenAI's own with a key."""
        return bool(self.base_url or self.api_key or openai_api_key_fallback())

    def _redact(self, text: str) -> str:
        for secret in (self.api_key, openai_api_key_fallback()):  # the key actually sent
            text = text.replace(secret, "[REDACTED]") if secret else text
        return text

    def caller(self, circuit_name: str = "evaluator") -> ChatCaller:
        client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key or openai_api_key_fallback() or "unset",
            timeout=self.timeout_s,
            max_retries=0,  # retries are ours, so they are counted and capped
        )
        return ChatCaller(
            client,
            CircuitBreaker(circuit_name, self.circuit_failures),
            self.max_retries,
            self.backoff_base_s,
            self.backoff_max_s,
            self._redact,
        )

    def answer(self, model: str, prompts: list[str], caller: ChatCaller | None = None) -> AnswerRun:
        """The model's answers, in prompt order; failures are None with their error."""
        caller = caller or self.caller()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            replies = list(
                pool.map(
                    lambda p: caller.chat(
                        model,
                        [{"role": "user", "content": p}],
                        temperature=0,
                        max_tokens=self.max_answer_tokens,
                    ),
                    prompts,
                )
            )
        failed = {f"{model}: {r.error}" for r in replies if r.status not in ("ok", "refused")}
        return AnswerRun(
            answers=[r.content if r.status == "ok" else None for r in replies],
            errors=sorted(failed)[:5],
            refused=[i for i, r in enumerate(replies) if r.status == "refused"],
            counters=caller.counters,
            seconds=time.perf_counter() - started,
        )

    def describe(self) -> dict[str, Any]:
        return {"eval_endpoint": self.base_url or "https://api.openai.com/v1 (default)"}
