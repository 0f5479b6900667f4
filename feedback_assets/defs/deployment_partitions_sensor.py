"""deployment_partitions_sensor: a deployment becomes a partition when its traffic first arrives."""

import dagster as dg

from feedback_assets.defs.partitions import DEPLOYMENT, deployment_partitions
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.settings import load_settings


@dg.sensor(
    minimum_interval_seconds=load_settings().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers every deployment seen in the feedback store as a partition.",
)
def deployment_partitions_sensor(
    context: dg.SensorEvaluationContext, feedback_store: FeedbackStoreResource
):
    known = set(context.instance.get_dynamic_partitions(DEPLOYMENT))
    new = [d for d in feedback_store.store().deployments() if d not in known]
    if not new:
        return dg.SkipReason(f"no new deployments ({len(known)} known)")
    return dg.SensorResult(
        dynamic_partitions_requests=[deployment_partitions.build_add_request(new)]
    )
