"""Retraining from the training_exports batches a deployment has not trained on yet.

The run bundles those batches (their files verified against the recorded checksums, merged per
format without recomputing rows), launches the trainer on the bundle, records the run with the
bundle as its export batch (the bundle's manifest names the source batches), and on success
registers the trained model as a candidate: the evaluation gate (services.candidate_evaluations)
decides whether it is promoted. A failed run gives its batches back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from feedback_assets.domain.export.bundle import SourceBatch, build_bundle
from feedback_assets.domain.export.export import MANIFEST_NAME, file_path
from feedback_assets.domain.export.files import resolve_under_root
from feedback_assets.domain.export.training_exports import batch_id_for
from feedback_assets.resources.launchers.base import LaunchRequest, LaunchResult
from feedback_assets.services.candidate_evaluations import give_back
from feedback_assets.store import FeedbackStore
from feedback_assets.store.exports import (
    batch_event_ids,
    record_batch,
    unmark_batch,
    unused_training_batches,
)
from feedback_assets.store.model_versions import (
    ModelVersionError,
    candidates,
    current_model_version,
    decide,
    register_candidate,
)
from feedback_assets.store.retraining import finish_run, start_run

NO_NEW_DATA = "no new curated examples / export batches since the last retraining"


class RetrainingFailed(RuntimeError):
    """The run failed; its row in the store is already marked failed with the reason."""

    def __init__(self, description: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.metadata = dict(metadata or {})


class Launcher(Protocol):
    kind: str

    def launch(self, request: LaunchRequest) -> LaunchResult: ...


@dataclass(frozen=True)
class RetrainingRequest:
    run_id: str
    deployment_id: str
    trigger_types: Sequence[str]
    reasons: Sequence[str]
    max_batches: int | None = None  # oldest unused batches first; None takes them all


def retrain(
    store: FeedbackStore, root: str, launcher: Launcher, req: RetrainingRequest
) -> dict[str, Any]:
    """One retraining run end to end; returns its metadata or raises RetrainingFailed."""
    base = current_model_version(store, req.deployment_id)
    start_run(
        store,
        req.run_id,
        req.deployment_id,
        req.trigger_types,
        req.reasons,
        launcher.kind,
        base,
    )
    bundle = prepare_bundle(store, root, req)
    result = launcher.launch(launch_request(bundle, root, req, base))
    metadata = _record_result(store, req, bundle, result, launcher.kind)
    if not result.succeeded:
        # The run is recorded as failed; its batches stay available for the next retraining.
        unmark_batch(store, bundle["batch_id"])
        raise RetrainingFailed(f"launch failed: {result.error}", metadata)
    candidate = result.new_model_version_id or ""
    older = candidates(store, req.deployment_id)
    try:
        register_candidate(store, req.deployment_id, candidate, base, req.run_id)
    except ModelVersionError as exc:
        unmark_batch(store, bundle["batch_id"])  # its examples stay available
        _fail(
            store,
            req.run_id,
            f"launcher reported an unusable candidate: {exc}",
            export_batch_id=bundle["batch_id"],
        )
    for stale in older:  # never evaluated (a run that stopped): this candidate replaces it
        decide(
            store,
            req.deployment_id,
            str(stale["model_version_id"]),
            "rejected",
            [f"superseded by {candidate} before the gate decided"],
        )
        give_back(store, stale)
    metadata["candidate_model_version_id"] = candidate
    metadata["base_model_version_id"] = base or ""
    return metadata


def prepare_bundle(store: FeedbackStore, root: str, req: RetrainingRequest) -> dict[str, Any]:
    """Bundle the deployment's unused training_exports batches and mark them used."""
    sources = [
        SourceBatch(r["export_batch_id"], r["root"], r["manifest"], r["partition_key"])
        for r in unused_training_batches(store, req.deployment_id, limit=req.max_batches)
    ]
    if not sum(int(s.manifest.get("counts", {}).get("curated", 0)) for s in sources):
        _fail(store, req.run_id, f"{req.deployment_id}: {NO_NEW_DATA}")
    bundle_id = batch_id_for(req.deployment_id, f"retrain-{req.run_id[:8]}")
    manifest, problems = build_bundle(
        sources,
        root,
        bundle_id,
        retraining_run_id=req.run_id,
        config={"trigger_types": list(req.trigger_types), "reasons": list(req.reasons)},
    )
    if manifest is None or problems:
        _fail(
            store,
            req.run_id,
            f"retraining bundle {bundle_id}: {'; '.join(problems)}",
            export_batch_id=bundle_id if manifest is not None else None,
            problems=problems,
        )
    record_batch(
        store,
        manifest,
        deployment_id=req.deployment_id,
        root=root,
        event_ids=batch_event_ids(store, manifest["source_batch_ids"]),
        kind="retraining",
    )
    return manifest


def launch_request(
    bundle: Mapping[str, Any], root: str, req: RetrainingRequest, base: str | None
) -> LaunchRequest:
    """The launcher's view of a bundle: one merged file per format, and the bundle manifest."""
    bundle_id = str(bundle["batch_id"])
    return LaunchRequest(
        deployment_id=req.deployment_id,
        export_batch_id=bundle_id,
        export_dir=resolve_under_root(root, bundle_id),
        files={fmt: file_path(bundle, root, fmt) for fmt in bundle["files"]},
        manifest_path=resolve_under_root(root, f"{bundle_id}/{MANIFEST_NAME}"),
        new_model_version_id=f"{req.deployment_id}-ft-{datetime.now(UTC):%Y%m%d%H%M%S}-{req.run_id[:6]}",
        base_model_version_id=base,
        reasons=list(req.reasons),
    )


def _fail(
    store: FeedbackStore,
    run_id: str,
    description: str,
    export_batch_id: str | None = None,
    problems: Sequence[str] = (),
) -> NoReturn:
    finish_run(store, run_id, "failed", export_batch_id=export_batch_id, error=description)
    raise RetrainingFailed(description, {"problems": list(problems)} if problems else None)


def _record_result(
    store: FeedbackStore,
    req: RetrainingRequest,
    bundle: Mapping[str, Any],
    result: LaunchResult,
    launcher_kind: str,
) -> dict[str, Any]:
    finish_run(
        store,
        req.run_id,
        result.status,
        export_batch_id=bundle["batch_id"],
        launcher_job_id=result.job_id,
        new_model_version_id=result.new_model_version_id if result.succeeded else None,
        error=result.error,
        finished_us=int(result.finished_at.timestamp() * 1e6),
    )
    return {
        "deployment_id": req.deployment_id,
        "trigger_types": list(req.trigger_types),
        "reasons": list(req.reasons),
        "export_batch_id": bundle["batch_id"],
        "source_batch_ids": list(bundle["source_batch_ids"]),
        "examples": int(bundle["counts"]["curated"]),
        "launcher": launcher_kind,
        "launcher_job_id": result.job_id or "",
        "status": result.status,
        "attempts": result.attempts,
        "duration_s": round((result.finished_at - result.started_at).total_seconds(), 2),
    }
