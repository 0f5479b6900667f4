"""Retraining trigger sensors: drift, quality drop and new-data count, per deployment.

Each sensor owns one trigger type; when it fires, other types firing at the same moment are
folded into the same run (one run listing all reasons). A run in flight for the deployment, or
the cooldown, holds a launch back; run_key keeps a repeated tick from launching twice.
"""

import dagster as dg

from feedback_assets.defs.triggering import evaluate_trigger
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import DriftSettings, TriggerSettings
from feedback_assets.settings import load_settings

INTERVAL = load_settings().sensor_interval_seconds


def _retraining_sensor(name: str, trigger_type: str, description: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        job_name="retraining_job",
        minimum_interval_seconds=INTERVAL,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        feedback_store: FeedbackStoreResource,
        trigger_settings: TriggerSettings,
        drift_settings: DriftSettings,
    ):
        requests, skips = evaluate_trigger(
            context.instance,
            feedback_store.store(),
            trigger_type,
            name,
            trigger_settings,
            drift_settings,
        )
        if requests:
            return dg.SensorResult(run_requests=requests)
        return dg.SkipReason("; ".join(skips) or "no deployments with data yet")

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
