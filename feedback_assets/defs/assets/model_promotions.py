"""model_promotions: which model version serves the deployment, and every change to it.

In retraining_job it runs only when candidate_not_worse passed, and promotes the candidate.
model_rollback_job runs it with action "rollback" when the model_regression sensor finds the
promoted version worse in live traffic. Either way the launcher switches serving first, then
the model history records it and the drift reference restarts on the new current model.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from feedback_assets.defs.metadata import history_table
from feedback_assets.defs.partitions import deployment_partitions, run_lineage
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import DriftSettings
from feedback_assets.resources.retraining_launcher import RetrainingLauncher
from feedback_assets.services.model_promotions import (
    PromotionFailed,
    promote_candidate,
    roll_back,
)
from feedback_assets.store.model_versions import model_history


class ModelPromotionsConfig(dg.Config):
    action: Literal["promote", "rollback"] = "promote"
    model_version_id: str | None = Field(
        default=None, description="rollback: the promoted version to roll back"
    )
    reasons: list[str] = []


@dg.asset(
    group_name="feedback_loop",
    partitions_def=deployment_partitions,
    deps=["candidate_evaluations"],
    kinds={"python"},
    description="The deployment's current model: promotions past the gate, and rollbacks.",
)
def model_promotions(
    context: dg.AssetExecutionContext,
    config: ModelPromotionsConfig,
    feedback_store: FeedbackStoreResource,
    retraining_launcher: RetrainingLauncher,
    drift_settings: DriftSettings,
) -> dg.MaterializeResult:
    store = feedback_store.store()
    deployment = context.partition_key
    try:
        if config.action == "rollback":
            if not config.model_version_id:
                raise PromotionFailed("model_version_id: required to roll back")
            result = roll_back(
                store,
                retraining_launcher,
                deployment,
                config.model_version_id,
                config.reasons or ["manual rollback"],
                drift_settings.reference_days,
            )
        else:
            result = promote_candidate(
                store,
                retraining_launcher,
                deployment,
                drift_settings.reference_days,
                run_ids=run_lineage(context),
            )
    except PromotionFailed as exc:
        raise dg.Failure(description=str(exc), metadata=exc.metadata) from exc
    history = model_history(store, deployment)
    return dg.MaterializeResult(
        metadata={
            "action": config.action,
            **result,
            "history": dg.MetadataValue.md(history_table(history)),
        }
    )
