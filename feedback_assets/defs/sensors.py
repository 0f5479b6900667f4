"""Retraining trigger sensors: drift, quality drop and new-data count, per deployment.

Each sensor owns one trigger type; when it fires, other types firing at the same moment are
folded into the same run (one run listing all reasons). A run in flight for the deployment, or
the cooldown, holds a launch back; run_key keeps a repeated tick from launching twice.
"""

import os

import dagster as dg

from feedback_assets.defs.jobs import retraining_job
from feedback_assets.defs.triggering import evaluate_trigger
from feedback_assets.resources.feedback_store import FeedbackStoreResource

INTERVAL = int(os.environ.get("FEEDBACK_SENSOR_INTERVAL_SECONDS", "30"))


def _tick(
    context: dg.SensorEvaluationContext, store: FeedbackStoreResource, trigger_type: str, name: str
):
    requests, skips = evaluate_trigger(context.instance, store.store(), trigger_type, name)
    if requests:
        return dg.SensorResult(run_requests=requests)
    return dg.SkipReason("; ".join(skips) or "no deployments with data yet")


def _retraining_sensor(name: str, trigger_type: str, description: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        job=retraining_job,
        minimum_interval_seconds=INTERVAL,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, feedback_store: FeedbackStoreResource):
        return _tick(context, feedback_store, trigger_type, name)

    return _sensor


drift_retraining_sensor = _retraining_sensor(
    "drift_retraining_sensor",
    "drift_threshold",
    "Retrain a deployment after N consecutive drifted windows (hysteresis).",
)
quality_drop_retraining_sensor = _retraining_sensor(
    "quality_drop_retraining_sensor",
    "quality_drop",
    "Retrain a deployment whose rolling mean quality fell below the threshold.",
)
data_count_retraining_sensor = _retraining_sensor(
    "data_count_retraining_sensor",
    "data_count",
    "Retrain once enough new curated examples arrived since the last retraining.",
)


@dg.definitions
def sensors() -> dg.Definitions:
    return dg.Definitions(
        sensors=[
            drift_retraining_sensor,
            quality_drop_retraining_sensor,
            data_count_retraining_sensor,
        ]
    )
