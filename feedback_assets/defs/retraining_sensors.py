"""Retraining sensors: one per sensor-kind trigger type of the registry (domain/triggers/registry).

A sensor is thin. Per registered deployment it reads the precomputed snapshot
(store/trigger_state.load_trigger_state), calls the pure `plan_tick`, records the outcome in
trigger_history and returns the run requests. When its type fires, the other sensor-kind types
firing at the same moment fold into the same run (one run listing all reasons). A run in flight
or the cooldown holds a launch back; run_key keeps a repeated tick from launching twice. Live
drift verdicts and quality come from the live_drift asset: no report is computed in a tick.
"""

from datetime import UTC, datetime

import dagster as dg

from feedback_assets.defs.partitions import DEPLOYMENT
from feedback_assets.domain.triggers.plan import TAG_DEPLOYMENT, LaunchPlan, plan_tick
from feedback_assets.domain.triggers.registry import TriggerSpec, sensor_triggers
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import TriggerSettings
from feedback_assets.settings import load_settings
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.trigger_state import load_trigger_state, record_outcome

INTERVAL = load_settings().sensor_interval_seconds
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def retraining_in_flight(instance: dg.DagsterInstance, deployment_id: str) -> bool:
    runs = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name="retraining_job", tags={TAG_DEPLOYMENT: deployment_id}, statuses=IN_FLIGHT
        ),
        limit=1,
    )
    return bool(runs)


def run_request(plan: LaunchPlan, deployment_id: str, source: str) -> dg.RunRequest:
    config = {"trigger_types": plan.trigger_types, "reasons": plan.reasons}
    return dg.RunRequest(
        run_key=plan.run_key,
        job_name="retraining_job",
        partition_key=deployment_id,
        run_config={"ops": {"retraining_runs": {"config": config}}},
        tags={**plan.tags, "feedback/source": source},
    )


def trigger_requests(
    instance: dg.DagsterInstance,
    store: FeedbackStore,
    trigger_type: str,
    source: str,
    settings: TriggerSettings,
    now: datetime | None = None,
) -> tuple[list[dg.RunRequest], list[str]]:
    """Run requests for deployments where `trigger_type` fired, and why the others skipped."""
    now = now or datetime.now(UTC)
    config = settings.config()
    requests, skips = [], []
    for deployment in instance.get_dynamic_partitions(DEPLOYMENT):
        in_flight = retraining_in_flight(instance, deployment)
        outcome = plan_tick(
            load_trigger_state(store, deployment, in_flight),
            now,
            config,
            trigger_type,
            settings.mode,
        )
        record_outcome(store, source, outcome)
        if outcome.action == "launched" and outcome.plan is not None:
            requests.append(run_request(outcome.plan, deployment, source))
        else:
            skips.append(outcome.message)
    return requests, skips


def _retraining_sensor(spec: TriggerSpec) -> dg.SensorDefinition:
    @dg.sensor(
        name=spec.definition,
        job_name="retraining_job",
        minimum_interval_seconds=INTERVAL,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=spec.description,
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        feedback_store: FeedbackStoreResource,
        trigger_settings: TriggerSettings,
    ) -> dg.SensorResult | dg.SkipReason:
        requests, skips = trigger_requests(
            context.instance, feedback_store.store(), spec.name, spec.definition, trigger_settings
        )
        if requests:
            return dg.SensorResult(run_requests=requests)
        return dg.SkipReason("; ".join(skips) or "no deployments registered yet")

    return _sensor


# drift_retraining_sensor, quality_drop_retraining_sensor, data_count_retraining_sensor, and one
# more for every sensor-kind type registered later (auto-discovery loads a module-level list).
retraining_sensors: list[dg.SensorDefinition] = [_retraining_sensor(s) for s in sensor_triggers()]
