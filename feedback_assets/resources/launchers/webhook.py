"""Webhook launcher: POSTs the export manifest as JSON and expects `{"job_id": ...}` back.

A 2xx with a job id means the remote trainer accepted the job; the new model version is the
one the request names unless the reply names another (`model_version_id`). A reply with a
`status_url` is polled (GET) until its `status` is succeeded, failed or cancelled; the trained
model's id is then the poll's `model_version_id`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

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


def webhook_payload(request: LaunchRequest) -> dict[str, Any]:
    """Request fields plus the manifest content, so the receiver needs no access to our disk."""
    payload = asdict(request)
    payload["files"] = dict(request.files)
    payload["reasons"] = list(request.reasons)
    payload["manifest"] = json.loads(Path(request.manifest_path).read_text(encoding="utf-8"))
    return payload


def run_webhook(
    request: LaunchRequest,
    *,
    url: str | None,
    token: str | None,
    timeout_s: float,
    max_retries: int,
    backoff_s: float,
    redact: Redactor,
    sleep: Callable[[float], None] = time.sleep,
    circuit_failures: int = DEFAULT_THRESHOLD,
    poll_interval_s: float = 5.0,
) -> LaunchResult:
    started = utcnow()
    if not url:
        return failed(started, "webhook_url: not configured", attempts=0)
    try:
        payload = webhook_payload(request)
    except (OSError, ValueError) as exc:
        error = f"manifest_path: cannot read {request.manifest_path} as JSON: {exc}"
        return failed(started, error, attempts=0)
    headers = _headers(token)
    retrier = Retrier(max_retries, backoff_s, sleep, circuit_failures)
    log: list[str] = []

    def out() -> str:
        return redact(truncate("\n".join(retrier.log + log)))

    try:
        with httpx.Client(timeout=min(60.0, max(1.0, timeout_s))) as client:
            resp = retrier.call("webhook POST", lambda: _post(client, url, payload, headers, log))
    except TransientError as exc:
        error = f"webhook still failing after {retrier.attempts} attempt(s): {exc}"
        return failed(started, redact(error), out(), retrier.attempts)
    if not resp.is_success:
        error = f"webhook rejected the launch: HTTP {resp.status_code}: {resp.text[:300]}"
        return failed(started, redact(error), out(), retrier.attempts)
    body = _json_body(resp)
    if not isinstance(body, dict) or not body.get("job_id"):
        error = f"webhook reply has no job_id (HTTP {resp.status_code}): {resp.text[:300]}"
        return failed(started, redact(error), out(), retrier.attempts)
    job_id = body["job_id"]
    log.append(f"accepted as job {job_id}")
    version = body.get("model_version_id") or request.new_model_version_id
    if body.get("status_url"):
        polled = _poll(str(body["status_url"]), headers, retrier, log, timeout_s, poll_interval_s)
        if polled.get("status") != "succeeded":
            error = f"remote training {job_id} ended {polled.get('status')!r}: {polled.get('error', '')}"
            return failed(started, redact(error[:500]), out(), retrier.attempts)
        version = polled.get("model_version_id") or version
    return _accepted(started, str(job_id), str(version), out, retrier.attempts)


TERMINAL = ("succeeded", "failed", "cancelled")


def _poll(
    url: str,
    headers: dict[str, str],
    retrier: Retrier,
    log: list[str],
    timeout_s: float,
    interval_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """GET the status URL until a terminal status or the time budget runs out."""
    deadline = time.monotonic() + timeout_s

    def get() -> httpx.Response:
        try:
            resp = client.get(url, headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return resp

    with httpx.Client(timeout=min(60.0, max(1.0, timeout_s))) as client:
        while True:
            try:
                body = _json_body(retrier.call("webhook poll", get))
            except TransientError as exc:
                return {"status": "failed", "error": f"polling failed: {exc}"}
            status = str(body.get("status")) if isinstance(body, dict) else "unreadable reply"
            log.append(f"GET {url} -> {status}")
            if status in TERMINAL:
                return body
            if time.monotonic() + interval_s > deadline:
                return {"status": "timed out", "error": f"no terminal status within {timeout_s:g}s"}
            sleep(interval_s)


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _post(
    client: httpx.Client, url: str, payload: dict[str, Any], headers: dict[str, str], log: list[str]
) -> httpx.Response:
    """One POST; connect errors, timeouts, 429 and 5xx raise TransientError (retried)."""
    try:
        resp = client.post(url, json=payload, headers=headers)
    except httpx.TransportError as exc:  # connect errors and timeouts
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc
    log.append(f"POST {url} -> HTTP {resp.status_code}")
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TransientError(f"HTTP {resp.status_code}: {resp.text[:200]}")
    return resp


def _json_body(resp: httpx.Response) -> Any:
    """The reply's JSON, or None if it is not JSON."""
    try:
        return resp.json()
    except ValueError:
        return None


def _accepted(
    started: datetime, job_id: str, version: str, out: Callable[[], str], attempts: int
) -> LaunchResult:
    return LaunchResult(
        status="succeeded",
        job_id=job_id,
        new_model_version_id=version,
        started_at=started,
        finished_at=utcnow(),
        output=out(),
        error=None,
        attempts=attempts,
    )
