"""Pointing a deployment at a model version: on promotion, and back on rollback.

The feedback store's model history is always the record (api.get_model_history). Where serving
is switched by something else, a launcher also tells it: the command launcher runs its
`promote_command`, the webhook launcher POSTs `{"action": "promote", ...}`. The OpenAI
fine-tune launcher has nothing to call: the app uses the model name the history names.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import httpx

from feedback_assets.resources.launchers.base import Redactor, Retrier, TransientError
from feedback_assets.resources.launchers.command import resolve_command


@dataclass(frozen=True)
class PromoteRequest:
    deployment_id: str
    model_version_id: str  # the version to serve from now on
    previous_model_version_id: str | None
    action: str = "promote"  # "promote" after the gate, "rollback" after a regression
    reasons: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class PromoteResult:
    ok: bool
    detail: str


RECORD_ONLY = PromoteResult(True, "recorded in the feedback store's model history")


def promote_by_command(
    request: PromoteRequest, command: Sequence[str], timeout_s: float, redact: Redactor
) -> PromoteResult:
    env = {
        **os.environ,
        "FEEDBACK_ACTION": request.action,
        "FEEDBACK_DEPLOYMENT_ID": request.deployment_id,
        "FEEDBACK_PROMOTE_MODEL_VERSION": request.model_version_id,
        "FEEDBACK_PREVIOUS_MODEL_VERSION": request.previous_model_version_id or "",
    }
    try:
        proc = subprocess.run(
            resolve_command(command),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return PromoteResult(False, redact(f"promote_command: {type(exc).__name__}: {exc}"))
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no stderr"
        return PromoteResult(False, redact(f"promote_command: exit {proc.returncode}: {tail}"))
    return PromoteResult(True, f"promote_command exited 0 ({request.action})")


def promote_by_webhook(
    request: PromoteRequest,
    url: str,
    token: str | None,
    retrier: Retrier,
    redact: Redactor,
    timeout_s: float = 30.0,
) -> PromoteResult:
    payload = {**asdict(request), "reasons": list(request.reasons)}
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post() -> httpx.Response:
        try:
            resp = client.post(url, json=payload, headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return resp

    try:
        with httpx.Client(timeout=timeout_s) as client:
            resp = retrier.call(f"webhook {request.action}", post)
    except TransientError as exc:
        return PromoteResult(False, redact(f"webhook {request.action} failed: {exc}"))
    if not resp.is_success:
        return PromoteResult(
            False, redact(f"webhook refused {request.action}: HTTP {resp.status_code}")
        )
    return PromoteResult(True, f"webhook accepted {request.action} (HTTP {resp.status_code})")
