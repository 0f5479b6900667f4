"""retraining_runs: bundle unused training_exports batches -> launch -> record -> register.

Partitioned by deployment: retraining_runs[support-bot] reads every day of that deployment's
training_exports. Materialized by retraining_job, which the trigger sensors and the retraining
schedule launch. The work is services.retraining.retrain; this asset reads resources and reports.
"""

import dagster as dg
from pydantic import Field

from feedback_assets.defs.partitions import deployment_partitions
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.retraining_launcher import RetrainingLauncher
from feedback_assets.services.retraining import RetrainingFailed, RetrainingRequest, retrain


class RetrainingConfig(dg.Config):
    trigger_types: list[str] = ["manual"]
    reasons: list[str] = ["manual launch"]
    max_batches: int | None = Field(
        default=None, description="train on at most this many unused export batches, oldest first"
    )


@dg.asset(
    group_name="feedback_loop",
    partitions_def=deployment_partitions,
    # Dagster's default mapping from day x deployment to deployment: every day of that deployment.
    deps=["training_exports"],
    kinds={"python"},
    description="One row per retraining: reasons, export batches, launcher job, status, new model.",
)
def retraining_runs(
    context: dg.AssetExecutionContext,
    config: RetrainingConfig,
    feedback_store: FeedbackStoreResource,
    retraining_launcher: RetrainingLauncher,
) -> dg.MaterializeResult:
    request = RetrainingRequest(
        run_id=context.run.run_id,
        deployment_id=context.partition_key,
        trigger_types=config.trigger_types,
        reasons=config.reasons,
        max_batches=config.max_batches,
    )
    try:
        metadata = retrain(
            feedback_store.store(),
            feedback_store.resolved_export_root(),
            retraining_launcher,
            request,
        )
    except RetrainingFailed as exc:
        raise dg.Failure(description=str(exc), metadata=exc.metadata) from exc
    return dg.MaterializeResult(metadata=metadata)
