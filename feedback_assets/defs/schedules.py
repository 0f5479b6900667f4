"""Schedules: the daily loop over the latest complete partition, and scheduled retraining."""

import dagster as dg

from feedback_assets.defs import jobs
from feedback_assets.defs.triggering import evaluate_trigger
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import DriftSettings, TriggerSettings

# Yesterday, for every deployment, once the day is complete (01:00 UTC).
daily_feedback_loop_schedule = dg.build_schedule_from_partitioned_job(
    jobs.feedback_loop_job,
    name="daily_feedback_loop_schedule",
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    job_name="retraining_job",
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retrain each deployment when schedule_interval_seconds passed since its last retraining.",
)
def scheduled_retraining(
    context: dg.ScheduleEvaluationContext,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
    drift_settings: DriftSettings,
):
    requests, skips = evaluate_trigger(
        context.instance,
        feedback_store.store(),
        "scheduled",
        "scheduled_retraining",
        trigger_settings,
        drift_settings,
        context.scheduled_execution_time,
    )
    return requests or dg.SkipReason("; ".join(skips) or "no deployments with data yet")
