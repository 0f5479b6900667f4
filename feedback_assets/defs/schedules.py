"""Schedules: the daily loop over the latest complete partition, and scheduled retraining."""

import dagster as dg

from feedback_assets.defs.jobs import feedback_loop_job, retraining_job
from feedback_assets.defs.triggering import evaluate_trigger
from feedback_assets.resources.feedback_store import FeedbackStoreResource

# Yesterday's partition, once the day is complete (01:00 UTC).
daily_feedback_loop_schedule = dg.build_schedule_from_partitioned_job(
    feedback_loop_job,
    name="daily_feedback_loop_schedule",
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    job=retraining_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retrain each deployment when schedule_interval_seconds passed since its last retraining.",
)
def scheduled_retraining(
    context: dg.ScheduleEvaluationContext, feedback_store: FeedbackStoreResource
):
    now = context.scheduled_execution_time
    requests, skips = evaluate_trigger(
        context.instance, feedback_store.store(), "scheduled", "scheduled_retraining", now
    )
    return requests or dg.SkipReason("; ".join(skips) or "no deployments with data yet")


@dg.definitions
def schedules() -> dg.Definitions:
    return dg.Definitions(schedules=[daily_feedback_loop_schedule, scheduled_retraining])
