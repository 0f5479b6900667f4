"""retraining_runs: bundle unused training_exports batches -> launch -> record -> register.

Materialized by retraining_job, which the trigger sensors and the retraining schedule launch.
The work is services.retraining.retrain; this asset reads resources and reports metadata.
"""

import dagster as dg
from pydantic import Field

from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.retraining_launcher import RetrainingLauncher
from feedback_assets.services.retraining import RetrainingFailed, RetrainingRequest, retrain


class RetrainingConfig(dg.Config):
    deployment_id: str
    trigger_types: list[str] = ["manual"]
    reasons: list[str] = ["manual launch"]
    max_batches: int | None = Field(
        default=None, description="train on at most this many unused export batches, oldest first"
    )


@dg.asset(
    group_name="feedback_loop",
    deps=[dg.AssetDep("training_exports", partition_mapping=dg.AllPartitionMapping())],
    kinds={"python"},
    description="One row per retraining: reasons, export batch, launcher job, status, new model.",
)
def retraining_runs(
    context: dg.AssetExecutionContext,
    config: RetrainingConfig,
    feedback_store: FeedbackStoreResource,
    retraining_launcher: RetrainingLauncher,
) -> dg.MaterializeResult:
    request = RetrainingRequest(
        run_id=context.run.run_id,
        deployment_id=config.deployment_id,
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
