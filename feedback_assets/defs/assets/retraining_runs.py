"""retraining_runs: export -> launch -> record -> register the model, reset the drift reference.

Materialized by retraining_job, which the trigger sensors and the retraining schedule launch.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from feedback_assets.defs.partitions import deployment_partitions
from feedback_assets.domain.export.training_exports import batch_id_for, training_export
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.retraining_launcher import LaunchRequest, RetrainingLauncher
from feedback_assets.store.exports import curated_for, record_batch
from feedback_assets.store.feedback_store import now_us
from feedback_assets.store.references import reset_reference
from feedback_assets.store.retraining import base_model_version, finish_run, start_run
from feedback_assets.store.windows import partitions_window


class RetrainingConfig(dg.Config):
    trigger_types: list[str] = ["manual"]
    reasons: list[str] = ["manual launch"]
    limit: int | None = None


@dg.asset(
    group_name="feedback_loop",
    partitions_def=deployment_partitions,
    # Dagster's default mapping from day x deployment to deployment: every day of that deployment.
    deps=["training_exports"],
    kinds={"python"},
    description="One row per retraining: reasons, export batch, launcher job, status, new model.",
)
def retraining_runs(
    context: dg.AssetExecutionContext,
    config: RetrainingConfig,
    feedback_store: FeedbackStoreResource,
    retraining_launcher: RetrainingLauncher,
) -> dg.MaterializeResult:
    store = feedback_store.store()
    deployment = context.partition_key
    run_id = context.run.run_id
    base = base_model_version(store, deployment)
    start_run(
        store,
        run_id,
        deployment,
        config.trigger_types,
        config.reasons,
        retraining_launcher.kind,
        base,
    )
    curated = curated_for(store, deployment, exclude_kind="retraining", limit=config.limit)
    if curated.empty:
        finish_run(store, run_id, "failed", error="no new curated examples to train on")
        raise dg.Failure(
            description=f"{deployment}: no new curated examples since the last retraining"
        )
    window = partitions_window(store, deployment, sorted(set(curated["partition_key"])))
    batch_id = batch_id_for(deployment, f"retrain-{run_id[:8]}")
    root = feedback_store.resolved_export_root()
    manifest, problems = training_export(
        curated,
        window,
        root,
        batch_id,
        filters={"deployment_id": deployment},
        config={"reasons": config.reasons},
    )
    if manifest is None or problems:
        finish_run(store, run_id, "failed", export_batch_id=batch_id, error="; ".join(problems))
        raise dg.Failure(
            description=f"export {batch_id} did not load back", metadata={"problems": problems}
        )
    record_batch(
        store,
        manifest,
        deployment_id=deployment,
        root=root,
        event_ids=curated["event_id"].tolist(),
        kind="retraining",
    )
    version = f"{deployment}-ft-{datetime.now(UTC):%Y%m%d%H%M%S}"
    export_dir = str(Path(root) / batch_id)
    result = retraining_launcher.launch(
        LaunchRequest(
            deployment_id=deployment,
            export_batch_id=batch_id,
            export_dir=export_dir,
            files={
                fmt: str(Path(export_dir) / info["path"]) for fmt, info in manifest["files"].items()
            },
            manifest_path=str(Path(export_dir) / "manifest.json"),
            new_model_version_id=version,
            base_model_version_id=base,
            reasons=config.reasons,
        )
    )
    finish_run(
        store,
        run_id,
        result.status,
        export_batch_id=batch_id,
        launcher_job_id=result.job_id,
        new_model_version_id=result.new_model_version_id if result.succeeded else None,
        error=result.error,
        finished_us=int(result.finished_at.timestamp() * 1e6),
    )
    metadata = {
        "deployment_id": deployment,
        "trigger_types": dg.MetadataValue.json(config.trigger_types),
        "reasons": dg.MetadataValue.json(config.reasons),
        "export_batch_id": batch_id,
        "examples": len(curated),
        "launcher": retraining_launcher.kind,
        "launcher_job_id": result.job_id or "",
        "status": result.status,
        "attempts": result.attempts,
        "duration_s": round((result.finished_at - result.started_at).total_seconds(), 2),
    }
    if not result.succeeded:
        # The row is recorded as failed; the reference stays; the cooldown holds the next attempt.
        raise dg.Failure(description=f"launch failed: {result.error}", metadata=metadata)
    store.append(
        "model_versions",
        [
            {
                "model_version_id": result.new_model_version_id,
                "deployment_id": deployment,
                "parent_model_version_id": base,
                "retraining_run_id": run_id,
                "registered_us": now_us(),
            }
        ],
    )
    reset_reference(
        store,
        deployment,
        now_us(),
        f"reset by retraining run {run_id}",
        model_version_id=result.new_model_version_id,
    )
    metadata["new_model_version_id"] = result.new_model_version_id or ""
    return dg.MaterializeResult(metadata=metadata)
