"""LLM judge through any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, ...).

Off unless `enabled`. Judges a deterministic sample of events, reuses cached verdicts,
bounds concurrency, retries 429/5xx/timeouts with exponential backoff and jitter, and stops
at a per-run cost cap. A skipped or failed judgement is absent (NaN), never 1.0.
"""

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import dagster as dg
import numpy as np
import openai
import pandas as pd
from pydantic import Field

from feedback_assets.domain.evaluation.pairwise import (
    PAIRWISE_RUBRIC_VERSION,
    pairwise_messages,
    parse_preference,
    swapped_votes,
)
from feedback_assets.domain.quality.judge import (
    RUBRIC_VERSION,
    build_messages,
    cache_key,
    parse_judge_answer,
)
from feedback_assets.resources.chat_calls import ChatCaller
from feedback_assets.resources.circuit import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_THRESHOLD,
    CircuitBreaker,
    shared_circuit,
)
from feedback_assets.settings import openai_api_key_fallback

log = logging.getLogger(__name__)

JUDGE_STATUSES: tuple[str, ...] = (
    "ok",
    "cached",
    "unparseable",
    "failed",
    "skipped_sample",
    "skipped_cap",
    "skipped_circuit",
    "disabled",
)


class JudgeCache(Protocol):
    def get_many(self, keys: list[str]) -> dict[str, dict]: ...

    def put_many(self, rows: dict[str, dict]) -> None: ...


@dataclass
class JudgeRun:
    """results: event_id, judge_score (NaN if absent), judge_passed, judge_status, judge_reason."""

    results: pd.DataFrame
    calls: int = 0  # judgements sent (one per event, retries excluded)
    requests: int = 0  # HTTP requests, retries included
    retries: int = 0
    tokens: int = 0
    cap_hit: bool = False
    cache_hits: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    circuit_reason: str = ""  # why judging stopped early (the endpoint kept failing)

    def metadata(self) -> dict[str, Any]:
        n = len(self.results)
        judged = int(self.results["judge_score"].notna().sum()) if n else 0
        return {
            "judge_calls": self.calls,
            "judge_requests": self.requests,
            "judge_retries": self.retries,
            "judge_tokens": self.tokens,
            "judge_cap_hit": self.cap_hit,
            "judge_cache_hits": self.cache_hits,
            "judge_coverage": judged / n if n else 0.0,
            "judge_status_counts": dict(self.status_counts),
            "judge_rubric_version": RUBRIC_VERSION,
            "judge_circuit_open": bool(self.circuit_reason),
            "judge_circuit_reason": self.circuit_reason,
        }


@dataclass
class _Budget:
    """One run's calls (retries, counters and circuit: the shared ChatCaller) and token cap."""

    caller: ChatCaller
    max_tokens: int
    cap_hit: bool = False


class LLMJudgeResource(dg.ConfigurableResource):
    """Pass the key as `api_key=dg.EnvVar("FEEDBACK_JUDGE_API_KEY")`; it is never logged."""

    enabled: bool = False
    base_url: str | None = None
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    sample_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    max_concurrency: int = Field(default=4, ge=1)
    max_retries: int = Field(default=3, ge=0)
    timeout_s: float = Field(default=30.0, gt=0)
    max_calls_per_run: int = Field(default=500, ge=0)
    max_tokens_per_run: int = Field(default=200_000, ge=0)
    seed: int = 0
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    max_answer_tokens: int = Field(default=200, ge=1)
    circuit_failures: int = Field(
        default=DEFAULT_THRESHOLD, ge=1, description="failed requests in a row that stop judging"
    )
    circuit_state_dir: str | None = Field(
        default=None, description="where an open circuit is remembered across runs"
    )
    circuit_cooldown_s: float = Field(
        default=DEFAULT_COOLDOWN_S, ge=0, description="how long later runs skip a failed judge"
    )

    def _circuit(self) -> CircuitBreaker:
        return shared_circuit(
            "judge", self.circuit_failures, self.circuit_state_dir, self.circuit_cooldown_s
        )

    def sample_mask(self, event_ids: pd.Series) -> np.ndarray:
        """Deterministic: the same event ids and seed pick the same events on every run."""
        hashes = pd.util.hash_pandas_object(
            event_ids.astype(str).reset_index(drop=True),
            index=False,
            hash_key=f"fbjudge{self.seed % 10**9:09d}",
        ).to_numpy()
        return (hashes / 2.0**64) < self.sample_rate

    def _client(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key or openai_api_key_fallback() or "unset",
            timeout=self.timeout_s,
            max_retries=0,  # retries are ours, so they are visible and tested
        )

    def _redact(self, text: str) -> str:
        for secret in (self.api_key, openai_api_key_fallback()):  # the key actually sent
            text = text.replace(secret, "[REDACTED]") if secret else text
        return text

    def _caller(self) -> ChatCaller:
        return ChatCaller(
            self._client(),
            self._circuit(),
            self.max_retries,
            self.backoff_base_s,
            self.backoff_max_s,
            self._redact,
        )

    def _judge_one(self, prompt: str, response: str, budget: _Budget) -> dict:
        est = (len(prompt or "") + len(response or "")) // 4 + self.max_answer_tokens
        counters = budget.caller.counters
        with counters.lock:
            if counters.tokens + est > budget.max_tokens:
                budget.cap_hit = True
                return {"status": "skipped_cap", "reason": "token cap reached"}
        reply = budget.caller.chat(
            self.model,
            build_messages(prompt, response),
            estimate=est,
            temperature=0,
            max_tokens=self.max_answer_tokens,
        )
        if reply.status != "ok":  # a refused request fails like any other non-retryable one
            status = "skipped_circuit" if reply.status == "skipped_circuit" else "failed"
            return {"status": status, "reason": reply.error}
        verdict = parse_judge_answer(reply.content)
        return {
            "status": verdict.status,
            "score": verdict.score,
            "passed": verdict.passed,
            "reason": verdict.reason,
        }

    def judge(self, items: pd.DataFrame, cache: JudgeCache) -> JudgeRun:
        """Judge items[event_id, prompt, response]; one result row per item, same order."""
        missing = {"event_id", "prompt", "response"} - set(items.columns)
        if missing:
            raise ValueError(f"judge: items lack column(s) {sorted(missing)}")
        n = len(items)
        status = np.full(n, "disabled" if not self.enabled else "skipped_sample", dtype=object)
        score = np.full(n, np.nan)
        passed = np.full(n, None, dtype=object)
        reason = np.full(n, "", dtype=object)
        run = JudgeRun(results=pd.DataFrame())
        if self.enabled and n:
            self._run(items, cache, status, score, passed, reason, run)
        run.results = pd.DataFrame(
            {
                "event_id": items["event_id"].to_numpy(),
                "judge_score": score,
                "judge_passed": passed,
                "judge_status": status,
                "judge_reason": reason,
            }
        )
        run.status_counts = {
            s: int((status == s).sum()) for s in JUDGE_STATUSES if (status == s).any()
        }
        return run

    def compare(
        self, prompts: list[str], candidate: list[str], current: list[str]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Pairwise preference per prompt, asked in both orders: +1 candidate, -1 current, 0 a
        tie, a preference that flips with the order, or a failed call."""
        caller = self._caller()
        failed: list[str] = []

        def ask(triple: tuple[str, str, str]) -> int | None:
            reply = caller.chat(self.model, pairwise_messages(*triple), temperature=0, max_tokens=5)
            if reply.status != "ok":
                failed.append(reply.error)
            return parse_preference(reply.content) if reply.status == "ok" else None

        # Two calls per prompt: the judge's per-run call cap bounds the prompts it judges.
        n = min(len(prompts), self.max_calls_per_run // 2)
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            first = list(pool.map(ask, zip(prompts[:n], candidate[:n], current[:n], strict=True)))
            swapped = list(pool.map(ask, zip(prompts[:n], current[:n], candidate[:n], strict=True)))
        votes = np.zeros(len(prompts), dtype=int)
        votes[:n] = swapped_votes(first, swapped)
        return votes, {
            **caller.counters.metadata("judge_pairwise"),
            "judge_pairwise_rubric": PAIRWISE_RUBRIC_VERSION,
            "judge_pairwise_judged": n,
            "judge_pairwise_unanswered": sum(v is None for v in first + swapped),
            "judge_pairwise_failed": len(failed),
            "judge_pairwise_error": self._redact(failed[0])[:300] if failed else "",
            **caller.circuit.metadata(),
        }

    def _run(
        self,
        items: pd.DataFrame,
        cache: JudgeCache,
        status: np.ndarray,
        score: np.ndarray,
        passed: np.ndarray,
        reason: np.ndarray,
        run: JudgeRun,
    ) -> None:
        picked: list[int] = np.flatnonzero(self.sample_mask(items["event_id"])).tolist()
        prompts = items["prompt"].to_numpy()
        responses = items["response"].to_numpy()
        keys = {
            int(i): cache_key(prompts[i], responses[i], RUBRIC_VERSION, self.model) for i in picked
        }
        cached = cache.get_many(sorted(set(keys.values()))) if keys else {}
        todo = _use_cached(picked, keys, cached, status, score, passed, reason, run)
        over = todo[self.max_calls_per_run :]
        todo = todo[: self.max_calls_per_run]
        for i in over:
            status[i], reason[i] = "skipped_cap", "call cap reached"
        budget = _Budget(self._caller(), self.max_tokens_per_run, cap_hit=bool(over))
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            futures = {
                i: pool.submit(self._judge_one, prompts[i], responses[i], budget) for i in todo
            }
        fresh = self._collect(futures, keys, status, score, passed, reason, run)
        budget.caller.client.close()
        if fresh:
            cache.put_many(fresh)
        _report(run, budget, status, len(todo))

    def _collect(
        self,
        futures: dict[int, Future[dict]],
        keys: dict[int, str],
        status: np.ndarray,
        score: np.ndarray,
        passed: np.ndarray,
        reason: np.ndarray,
        run: JudgeRun,
    ) -> dict[str, dict]:
        """Record fresh verdicts in place; returns the cache rows to store (ok/unparseable)."""
        fresh: dict[str, dict] = {}
        for i, fut in futures.items():
            res = fut.result()
            status[i], reason[i] = res["status"], res.get("reason", "")
            run.calls += int(res["status"] != "skipped_cap")
            if res["status"] == "ok":
                score[i], passed[i] = res["score"], res["passed"]
            if res["status"] in ("ok", "unparseable"):
                fresh[keys[i]] = {**res, "rubric_version": RUBRIC_VERSION, "model": self.model}
        return fresh


def _use_cached(
    picked: list[int],
    keys: dict[int, str],
    cached: dict[str, dict],
    status: np.ndarray,
    score: np.ndarray,
    passed: np.ndarray,
    reason: np.ndarray,
    run: JudgeRun,
) -> list[int]:
    """Fill in cached verdicts in place; returns the picked rows still to judge, in order."""
    todo: list[int] = []
    for i in picked:
        hit = cached.get(keys[i])
        if hit is None:
            todo.append(i)
            continue
        run.cache_hits += 1
        ok = hit.get("status") == "ok"
        status[i] = "cached" if ok else "unparseable"
        score[i] = hit.get("score") if ok and hit.get("score") is not None else np.nan
        passed[i] = hit.get("passed") if ok else None
        reason[i] = hit.get("reason", "")
    return todo


def _report(run: JudgeRun, budget: _Budget, status: np.ndarray, sent: int) -> None:
    """Copy the budget's counters into the run and warn about an open circuit or failures."""
    counters, circuit = budget.caller.counters, budget.caller.circuit
    run.requests, run.retries, run.tokens = counters.requests, counters.retries, counters.tokens
    run.cap_hit = budget.cap_hit
    run.circuit_reason = circuit.reason or ""
    if circuit.open:
        log.warning("LLM judge: %s", circuit.reason)
    failed = int((status == "failed").sum())
    if failed:
        log.warning("LLM judge: %d of %d judgements failed (absent from scores)", failed, sent)
