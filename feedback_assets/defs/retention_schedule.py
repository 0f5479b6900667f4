"""retention_schedule: retention_job once a day (02:30 UTC), only when a period is set."""

import dagster as dg

from feedback_assets.resources.loop_settings import RetentionSettings


@dg.schedule(
    job_name="retention_job",
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Purge raw rows older than FEEDBACK_RETENTION_DAYS (skips when it is unset).",
)
def retention_schedule(
    context: dg.ScheduleEvaluationContext, retention_settings: RetentionSettings
) -> dg.RunRequest | dg.SkipReason:
    if retention_settings.days is None:
        return dg.SkipReason("FEEDBACK_RETENTION_DAYS is unset: raw rows are kept forever")
    as_of = context.scheduled_execution_time.isoformat(timespec="seconds")
    return dg.RunRequest(
        run_key=f"retention:{as_of}",
        run_config={"ops": {"purge_raw_rows": {"config": {"as_of": as_of}}}},
    )
