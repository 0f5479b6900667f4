"""Schedules: the daily loop, the live window's refresh, and scheduled retraining."""

from datetime import timedelta

import dagster as dg

from feedback_assets.defs import jobs
from feedback_assets.defs.partitions import DEPLOYMENT
from feedback_assets.defs.retraining_sensors import trigger_requests
from feedback_assets.domain.triggers.registry import TRIGGERS
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import TriggerSettings

# How often live_drift judges each deployment's last minutes (the drift sensor reads the result).
LIVE_REFRESH_CRON = "*/5 * * * *"
SCHEDULED = TRIGGERS["scheduled"]

# Yesterday, for every deployment, once the day is complete (01:00 UTC).
daily_feedback_loop_schedule = dg.build_schedule_from_partitioned_job(
    jobs.feedback_loop_job,
    name="daily_feedback_loop_schedule",
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    job_name="live_drift_job",
    cron_schedule=LIVE_REFRESH_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh live_drift for every deployment with traffic in its live window.",
)
def live_drift_schedule(
    context: dg.ScheduleEvaluationContext,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
) -> list[dg.RunRequest] | dg.SkipReason:
    store, at = feedback_store.store(), context.scheduled_execution_time
    since = at - timedelta(minutes=trigger_settings.live_window_minutes)
    since_us = int(since.timestamp() * 1_000_000)
    deployments = context.instance.get_dynamic_partitions(DEPLOYMENT)
    active = [d for d in deployments if (store.time_range(d)[1] or -1) >= since_us]
    if not active:
        return dg.SkipReason(
            f"no traffic since {since.isoformat(timespec='seconds')} in {len(deployments)} "
            "registered deployment(s)"
        )
    as_of = at.isoformat(timespec="seconds")
    return [
        dg.RunRequest(
            partition_key=d,
            run_key=f"{d}:{as_of}",
            run_config={"ops": {"live_drift": {"config": {"as_of": as_of}}}},
        )
        for d in active
    ]


@dg.schedule(
    name=SCHEDULED.definition,
    job_name="retraining_job",
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=SCHEDULED.description,
)
def scheduled_retraining(
    context: dg.ScheduleEvaluationContext,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
) -> list[dg.RunRequest] | dg.SkipReason:
    requests, skips = trigger_requests(
        context.instance,
        feedback_store.store(),
        SCHEDULED.name,
        SCHEDULED.definition,
        trigger_settings,
        context.scheduled_execution_time,
    )
    return requests or dg.SkipReason("; ".join(skips) or "no deployments registered yet")
