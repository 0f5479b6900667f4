"""OpenAI fine-tune launcher: upload the chat JSONL, create a job, poll it to a terminal state.

Works against any OpenAI-compatible base_url. The client's own retries are off so that
`max_retries`/`backoff_s` govern every call the same way as in the other launchers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import openai

from feedback_assets.resources.circuit import DEFAULT_THRESHOLD
from feedback_assets.resources.launchers.base import (
    LaunchRequest,
    LaunchResult,
    Redactor,
    Retrier,
    TransientError,
    failed,
    truncate,
    utcnow,
)

T = TypeVar("T")

CHAT_FORMATS = ("openai_chat",)
TERMINAL = ("succeeded", "failed", "cancelled")
_TRANSIENT = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
)


def job_suffix(deployment_id: str) -> str:
    """A suffix OpenAI accepts (letters, digits, '-'; kept short) naming the deployment."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", deployment_id.lower()).strip("-")
    return (cleaned or "feedback")[:40]


def _transient(fn: Callable[[], T]) -> Callable[[], T]:
    def wrapped() -> T:
        try:
            return fn()
        except _TRANSIENT as exc:
            raise TransientError(_describe(exc)) from exc

    return wrapped


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def run_openai_finetune(
    request: LaunchRequest,
    *,
    base_url: str | None,
    api_key: str | None,
    base_model: str,
    poll_interval_s: float,
    timeout_s: float,
    max_retries: int,
    backoff_s: float,
    redact: Redactor,
    sleep: Callable[[float], None] = time.sleep,
    circuit_failures: int = DEFAULT_THRESHOLD,
) -> LaunchResult:
    started = utcnow()
    log: list[str] = []
    retrier = Retrier(max_retries, backoff_s, sleep, circuit_failures)

    def out() -> str:
        return redact(truncate("\n".join(retrier.log + log)))

    chat_path, problem = _chat_export(request)
    if problem is not None:
        return failed(started, problem, attempts=0)
    try:
        client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url or None,
            max_retries=0,
            timeout=min(60.0, max(1.0, timeout_s)),
        )
    except openai.OpenAIError as exc:
        return failed(started, redact(f"api_key: {exc}"), attempts=0)

    job_id: str | None = None
    try:
        with client:
            job = _create_job(client, retrier, log, chat_path, base_model, request.deployment_id)
            job_id = str(job.id)
            log.append(f"created job {job_id} on {base_model}: {job.status}")
            job, status = _poll(client, retrier, log, job, timeout_s, poll_interval_s, sleep)
            if status not in TERMINAL:
                error = f"fine-tune job {job_id} timed out after {timeout_s:g}s in {status}"
                return failed(started, redact(error), out(), retrier.attempts, job_id)
    except TransientError as exc:
        error = f"OpenAI API still failing after {retrier.attempts} attempt(s): {exc}"
        return failed(started, redact(error), out(), retrier.attempts, job_id)
    except openai.APIStatusError as exc:
        return failed(
            started, redact(f"OpenAI API {_describe(exc)}"), out(), retrier.attempts, job_id
        )
    except (openai.OpenAIError, OSError) as exc:
        return failed(started, redact(_describe(exc)), out(), retrier.attempts, job_id)
    return _outcome(started, job, status, job_id, out, retrier.attempts, redact)


def _chat_export(request: LaunchRequest) -> tuple[str, str | None]:
    """The chat JSONL to upload, or ("", the reason there is none to upload)."""
    chat_path = next((request.files[f] for f in CHAT_FORMATS if f in request.files), None)
    if chat_path is None:
        return "", f"files: no 'openai_chat' export to upload (have: {sorted(request.files)})"
    if not Path(chat_path).is_file():
        return "", f"files['openai_chat']: {chat_path} is not a file"
    return chat_path, None


def _create_job(
    client: openai.OpenAI,
    retrier: Retrier,
    log: list[str],
    chat_path: str,
    base_model: str,
    deployment_id: str,
) -> Any:
    """Upload the chat file and create the fine-tuning job on it."""

    def upload() -> Any:
        with open(chat_path, "rb") as fh:
            return client.files.create(file=fh, purpose="fine-tune")

    uploaded = retrier.call("files.create", _transient(upload))
    log.append(f"uploaded {chat_path} as {uploaded.id} ({uploaded.bytes} bytes)")
    return retrier.call(
        "fine_tuning.jobs.create",
        _transient(
            lambda: client.fine_tuning.jobs.create(
                model=base_model,
                training_file=uploaded.id,
                suffix=job_suffix(deployment_id),
            )
        ),
    )


def _poll(
    client: openai.OpenAI,
    retrier: Retrier,
    log: list[str],
    job: Any,
    timeout_s: float,
    poll_interval_s: float,
    sleep: Callable[[float], None],
) -> tuple[Any, str]:
    """(job, status) once terminal; on timeout the job is cancelled and status is not terminal."""
    job_id = str(job.id)
    deadline = time.monotonic() + timeout_s
    status = str(job.status)
    while status not in TERMINAL:
        if time.monotonic() >= deadline:
            _cancel(client, job_id, log)
            return job, status
        sleep(poll_interval_s)
        job = retrier.call(
            "fine_tuning.jobs.retrieve",
            _transient(lambda: client.fine_tuning.jobs.retrieve(job_id)),
        )
        if str(job.status) != status:
            log.append(f"job {job_id}: {status} -> {job.status}")
        status = str(job.status)
    return job, status


def _outcome(
    started: datetime,
    job: Any,
    status: str,
    job_id: str | None,
    out: Callable[[], str],
    attempts: int,
    redact: Redactor,
) -> LaunchResult:
    """The result of a job that reached a terminal status."""
    if status != "succeeded" or not job.fine_tuned_model:
        detail = job.error.message if job.error and job.error.message else "no error detail"
        error = f"fine-tune job {job_id} ended {status}: {detail}"
        return failed(started, redact(error), out(), attempts, job_id)
    return LaunchResult(
        status="succeeded",
        job_id=job_id,
        new_model_version_id=str(job.fine_tuned_model),
        started_at=started,
        finished_at=utcnow(),
        output=out(),
        error=None,
        attempts=attempts,
    )


def _cancel(client: openai.OpenAI, job_id: str, log: list[str]) -> None:
    try:
        client.fine_tuning.jobs.cancel(job_id)
        log.append(f"job {job_id}: cancel requested")
    except openai.OpenAIError as exc:  # best effort: the timeout is what gets reported
        log.append(f"job {job_id}: cancel failed ({_describe(exc)})")
