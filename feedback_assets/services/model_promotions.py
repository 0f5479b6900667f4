"""Changing a deployment's current model: promoting a candidate that passed the gate, or
rolling the current version back to the one it was trained from. Either way the launcher
points serving at the version first (a refusal changes nothing), then the history records it
and the drift reference restarts on the new current model's traffic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from feedback_assets.resources.launchers.promote import PromoteRequest, PromoteResult
from feedback_assets.store import FeedbackStore, now_us
from feedback_assets.store.model_versions import (
    candidate_of_runs,
    candidates,
    current_model_version,
    decide,
    model_version,
    serve_again,
)
from feedback_assets.store.references import reset_reference


class PromotionFailed(RuntimeError):
    def __init__(self, description: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.metadata = dict(metadata or {})


class Promoter(Protocol):
    kind: str

    def promote(self, request: PromoteRequest) -> PromoteResult: ...


def _switch(
    store: FeedbackStore,
    launcher: Promoter,
    request: PromoteRequest,
    reference_days: int,
) -> PromoteResult:
    result = launcher.promote(request)
    if not result.ok:
        raise PromotionFailed(
            f"{request.action} of {request.model_version_id} refused: {result.detail}",
            {"launcher": launcher.kind, "detail": result.detail},
        )
    reset_reference(
        store,
        request.deployment_id,
        now_us(),
        f"{request.action}: {request.model_version_id} is the current model",
        reference_days,
        model_version_id=request.model_version_id,
    )
    return result


def promote_candidate(
    store: FeedbackStore,
    launcher: Promoter,
    deployment_id: str,
    reference_days: int = 2,
    run_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Promote the candidate the gate passed (still "candidate", with an evaluation): the one
    of `run_ids` (a retraining run and its root), else the newest."""
    passed = [c for c in candidates(store, deployment_id) if c["evaluation"]]
    cand = candidate_of_runs(store, deployment_id, run_ids) if run_ids else (passed or [None])[-1]
    if cand is None or not cand["evaluation"]:
        raise PromotionFailed(f"{deployment_id}: no evaluated candidate awaits promotion")
    cand_id = str(cand["model_version_id"])
    previous = current_model_version(store, deployment_id)
    request = PromoteRequest(deployment_id, cand_id, previous, "promote", ("passed the gate",))
    result = _switch(store, launcher, request, reference_days)
    gate_reasons = json.loads(cand["reasons"]) if cand["reasons"] else []
    decide(store, deployment_id, cand_id, "promoted", [*gate_reasons, f"promoted; {result.detail}"])
    return {"promoted": cand_id, "previous": previous or "", "launcher": result.detail}


def roll_back(
    store: FeedbackStore,
    launcher: Promoter,
    deployment_id: str,
    model_version_id: str,
    reasons: Sequence[str],
    reference_days: int = 2,
) -> dict[str, Any]:
    """Serve the current version's parent again and mark the version rolled_back. Only the
    current version can be rolled back: a rollback queued behind a newer promotion is refused
    rather than pointing serving away from what the history says is current."""
    row = model_version(store, deployment_id, model_version_id)
    current = current_model_version(store, deployment_id)
    if row is None or row["status"] != "promoted" or current != model_version_id:
        raise PromotionFailed(
            f"{model_version_id}: not the current model of {deployment_id} (that is {current})"
        )
    parent = row["parent_model_version_id"]
    if not parent:
        raise PromotionFailed(f"{model_version_id}: has no previous version to roll back to")
    request = PromoteRequest(deployment_id, str(parent), model_version_id, "rollback", reasons)
    result = _switch(store, launcher, request, reference_days)
    decide(store, deployment_id, model_version_id, "rolled_back", [*reasons, result.detail])
    serve_again(store, deployment_id, str(parent), f"serving again: {model_version_id} rolled back")
    return {"rolled_back": model_version_id, "current": parent, "launcher": result.detail}
