"""alert_sensor: posts to FEEDBACK_ALERT_WEBHOOK_URL when a deployment drifts, quality drops, a
blocking asset check fails, or a candidate model is rejected or rolled back.

Thin: the sources are services/alerts.ALERT_SOURCES; this reads the cursor (what was sent when,
how far each source read), the Dagster instance's failed check evaluations, and sends through the
alert_webhook resource. A dead webhook only skips the tick; its alerts are tried again next one.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from feedback_assets.domain.alerts.alerts import AlertState
from feedback_assets.resources.alert_webhook import AlertWebhook
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import TriggerSettings
from feedback_assets.services.alerts import AlertContext, FailedCheck, run_alerts
from feedback_assets.settings import load_settings

CHECK_HISTORY = 100  # evaluations read per blocking check per tick
# A source's first read (no watermark yet) alerts on what happened in the last day, not on the
# whole history of a store the sensor was just turned on for.
FIRST_LOOKBACK = timedelta(days=1)


def failed_blocking_checks(
    context: dg.SensorEvaluationContext, after_id: int | None, since_us: int
) -> tuple[list[FailedCheck], int | None]:
    """Failed evaluations of the code location's blocking checks, newer than `after_id`
    (first read: newer than `since_us`), from the instance's event log."""
    repository = context.repository_def
    if repository is None:
        return [], after_id
    graph = repository.asset_graph
    found: list[FailedCheck] = []
    top, pending = after_id, None
    for key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        if not graph.get_check_spec(key).blocking:
            continue
        for record in _newer(context.instance, key, after_id, since_us):
            evaluation = record.evaluation
            if evaluation is None:  # still running: the watermark must not pass it
                pending = record.id if pending is None else min(pending, record.id)
                continue
            top = max(top or 0, record.id)
            if not evaluation.passed:
                at_us = int(record.create_timestamp * 1_000_000)
                found.append(
                    FailedCheck(
                        key.asset_key.to_user_string(),
                        key.name,
                        record.partition,
                        record.id,
                        at_us,
                        evaluation.description,
                    )
                )
    if pending is not None and top is not None:
        top = min(top, pending - 1)
    return found, top


def _newer(
    instance: dg.DagsterInstance, key: dg.AssetCheckKey, after_id: int | None, since_us: int
) -> list:
    """The check's executions after the watermark, newest first."""
    out = []
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=CHECK_HISTORY)
    for record in history:
        if after_id is not None and record.id <= after_id:
            break
        if after_id is None and record.create_timestamp * 1_000_000 <= since_us:
            break
        out.append(record)
    return out


@dg.sensor(
    minimum_interval_seconds=load_settings().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts a webhook (Slack-compatible) on drift, quality drops, failed blocking "
    "checks and rejected or rolled-back models; one per deployment and reason per cooldown.",
)
def alert_sensor(
    context: dg.SensorEvaluationContext,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
    alert_webhook: AlertWebhook,
) -> dg.SensorResult | dg.SkipReason:
    if not alert_webhook.configured:
        return dg.SkipReason(
            "no alert destination: set FEEDBACK_ALERT_WEBHOOK_URL (or FEEDBACK_ALERT_SLACK_TOKEN "
            "and FEEDBACK_ALERT_SLACK_CHANNEL with dagster-slack installed)"
        )
    now = datetime.now(UTC)
    since = now - FIRST_LOOKBACK
    ctx = AlertContext(
        feedback_store.store(),
        trigger_settings.config(),
        now,
        int(since.timestamp() * 1_000_000),
        failed_checks=lambda after, since_us: failed_blocking_checks(context, after, since_us),
    )
    state = AlertState.from_cursor(context.cursor)
    outcome = run_alerts(ctx, state, alert_webhook.send, alert_webhook.cooldown_seconds)
    for alert in outcome.sent:
        context.log.info(f"alert sent: {alert.title}")
    return dg.SensorResult(skip_reason=outcome.summary(), cursor=outcome.state.to_cursor())
