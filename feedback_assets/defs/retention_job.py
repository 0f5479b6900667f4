"""retention_job: purge raw events, signals and dead letters older than FEEDBACK_RETENTION_DAYS.

Launched daily by retention_schedule (or from the Launchpad). The run's output metadata is what
the UI shows: the cutoff and the rows purged, per table and per deployment. Derived data stays
(services/retention.py states the rule).
"""

from datetime import datetime

import dagster as dg
from pydantic import Field

from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import RetentionSettings
from feedback_assets.services.retention import purge


class RetentionConfig(dg.Config):
    as_of: str | None = Field(
        default=None, description="purge as of this ISO time with a UTC offset (default: now)"
    )


def _as_of(config: RetentionConfig) -> datetime:
    if config.as_of is None:
        return datetime.now().astimezone()
    try:
        at = datetime.fromisoformat(config.as_of)
    except ValueError:
        raise dg.Failure(f"as_of: not an ISO time: {config.as_of!r}") from None
    if at.tzinfo is None:
        raise dg.Failure(f"as_of: needs a UTC offset, e.g. {config.as_of}+00:00")
    return at


@dg.op(description="Delete raw rows older than the retention period; reports what it purged.")
def purge_raw_rows(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    feedback_store: FeedbackStoreResource,
    retention_settings: RetentionSettings,
) -> dg.Output[dict]:
    if retention_settings.days is None:
        context.log.info("FEEDBACK_RETENTION_DAYS is unset: raw rows are kept forever")
        return dg.Output({}, metadata={"retention": "keep forever (FEEDBACK_RETENTION_DAYS unset)"})
    result = purge(feedback_store.store(), retention_settings.days, _as_of(config))
    purged = result.purged
    by_deployment = [
        dg.TableRecord({"deployment_id": dep, "events_purged": n})
        for dep, n in purged["events_by_deployment"].items()
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("deployment_id", "string"),
            dg.TableColumn("events_purged", "int"),
        ]
    )
    context.log.info(
        f"purged rows before {result.cutoff.isoformat()}: {purged['events']} events, "
        f"{purged['signals']} signals, {purged['dead_letters']} dead letters"
    )
    metadata = {
        "retention_days": result.days,
        "cutoff": result.cutoff.isoformat(),
        "events_purged": purged["events"],
        "signals_purged": purged["signals"],
        "dead_letters_purged": purged["dead_letters"],
        "by_deployment": dg.MetadataValue.table(by_deployment, schema=schema),
    }
    return dg.Output(purged, metadata=metadata)


@dg.job(description="Purge raw events, signals and dead letters past FEEDBACK_RETENTION_DAYS.")
def retention_job() -> None:
    purge_raw_rows()
