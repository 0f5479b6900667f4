"""sanitized_logs: redaction applied again plus normalization; proves nothing is left."""

import dagster as dg

from feedback_assets.defs.metadata import counts_by, preview
from feedback_assets.defs.partitions import daily_partitions, window_us
from feedback_assets.domain.pii.sanitize import parse_custom_patterns
from feedback_assets.domain.pii.sanitized_logs import leak_counts, sanitize_logs
from feedback_assets.resources.feedback_store import FeedbackStoreResource

SCANNED = ("prompt", "response", "metadata")


@dg.asset(
    group_name="feedback_loop",
    partitions_def=daily_partitions,
    deps=["raw_inferences"],
    kinds={"python", "sql"},
    description="Events and signals re-redacted (PII) and normalized (NFC, trimmed), per day.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_pii_leak",
            asset="sanitized_logs",
            blocking=True,
            description="A re-scan of the stored rows finds no PII of any type.",
        )
    ],
)
def sanitized_logs(context: dg.AssetExecutionContext, feedback_store: FeedbackStoreResource):
    store = feedback_store.store()
    start, end = window_us(context)
    events = store.read_events(start_us=start, end_us=end)
    # Signals go with their event's day, whenever they arrived (late clicks join on re-run).
    signals = store.read_signals(event_ids=events["event_id"].tolist())
    custom = parse_custom_patterns(feedback_store.settings.pii_patterns)
    result = sanitize_logs(events, signals, custom)
    pk = context.partition_key
    store.replace_partition("sanitized_logs", pk, result.events)
    store.replace_partition("sanitized_signals", pk, result.signals)
    stored = store.read_table("sanitized_logs", partition_key=pk)
    stored_signals = store.read_table("sanitized_signals", partition_key=pk)
    leaks = leak_counts(stored, SCANNED, custom)
    for entity, n in leak_counts(stored_signals, ("edited_response", "metadata"), custom).items():
        leaks[entity] = leaks.get(entity, 0) + n
    yield dg.MaterializeResult(
        metadata={
            "events": len(result.events),
            "signals": len(result.signals),
            "rows_changed": int(result.events["redacted"].sum()) if len(result.events) else 0,
            "redactions_by_entity": dg.MetadataValue.json(dict(sorted(result.redactions.items()))),
            "events_per_deployment": dg.MetadataValue.json(
                counts_by(result.events, "deployment_id")
            ),
            "preview": preview(
                result.events[result.events["redacted"]] if len(result.events) else result.events,
                ["deployment_id", "prompt", "response"],
            ),
        }
    )
    found = {k: v for k, v in leaks.items() if v}
    yield dg.AssetCheckResult(
        check_name="no_pii_leak",
        passed=not found,
        metadata={"hits_by_entity": dg.MetadataValue.json(found), "rows_scanned": len(stored)},
    )
