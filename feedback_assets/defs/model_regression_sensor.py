"""model_regression: after a promotion, watch the promoted version's live traffic.

Per deployment whose current model is a promoted retrained version, compare its low-quality,
thumbs-down and regenerate rates with its predecessor's (two-proportion tests, minimum sample;
services.model_regression). The verdict is recorded on the version. In launch mode a regression
requests model_rollback_job (once per version: the run key); suggest mode only records.
"""

import time

import dagster as dg

from feedback_assets.defs.partitions import DEPLOYMENT
from feedback_assets.defs.retraining_sensors import IN_FLIGHT, INTERVAL
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import TriggerSettings
from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
from feedback_assets.services.model_regression import record_verdict, watch_regression

TAG_ROLLBACK_OF = "feedback/rollback_of"


def rollback_request(
    instance: dg.DagsterInstance, deployment_id: str, version: str, reasons: list[str]
) -> dg.RunRequest | None:
    """A rollback run, or None while one is in flight. A failed rollback (the serving endpoint
    was down) is requested again under a new run key on a later tick."""
    earlier = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name="model_rollback_job", tags={TAG_ROLLBACK_OF: f"{deployment_id}/{version}"}
        )
    )
    if any(r.dagster_run.status in IN_FLIGHT for r in earlier):
        return None
    config = {"action": "rollback", "model_version_id": version, "reasons": reasons}
    return dg.RunRequest(
        run_key=f"rollback:{deployment_id}:{version}:{len(earlier)}",
        job_name="model_rollback_job",
        partition_key=deployment_id,
        run_config={"ops": {"model_promotions": {"config": config}}},
        tags={
            "feedback/deployment": deployment_id,
            "feedback/source": "model_regression",
            TAG_ROLLBACK_OF: f"{deployment_id}/{version}",
        },
    )


@dg.sensor(
    name="model_regression",
    job_name="model_rollback_job",
    minimum_interval_seconds=INTERVAL,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rolls a promoted model back when its live traffic is significantly worse.",
)
def model_regression(
    context: dg.SensorEvaluationContext,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
    model_evaluator: ModelEvaluatorResource,
) -> dg.SensorResult | dg.SkipReason:
    store = feedback_store.store()
    now = int(time.time() * 1e6)
    requests, notes = [], []
    for deployment in context.instance.get_dynamic_partitions(DEPLOYMENT):
        watch = watch_regression(
            store,
            deployment,
            model_evaluator.regression_config(),
            trigger_settings.quality_threshold,
            now,
        )
        if watch is None:
            continue
        verdict = watch.verdict
        launch = verdict.regressed and trigger_settings.mode == "launch"
        action = (
            "rollback" if launch else ("suggest: would roll back" if verdict.regressed else "none")
        )
        record_verdict(store, watch, action)
        summary = f"{deployment} {watch.model_version_id}: {'; '.join(verdict.reasons)}"
        request = (
            rollback_request(context.instance, deployment, watch.model_version_id, verdict.reasons)
            if launch
            else None
        )
        if request is not None:
            requests.append(request)
        else:
            notes.append(f"{summary} ({action})" if verdict.regressed else summary)
    if requests:
        return dg.SensorResult(run_requests=requests)
    return dg.SkipReason("; ".join(notes) or "no promoted retrained model to watch")
