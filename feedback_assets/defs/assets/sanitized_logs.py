"""sanitized_logs: redaction applied again plus normalization; proves nothing is left."""

import dagster as dg

from feedback_assets.defs.metadata import counts_table, preview
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.domain.pii.pii_version import pattern_set_version
from feedback_assets.domain.pii.sanitize import parse_custom_patterns
from feedback_assets.domain.pii.sanitized_logs import leak_counts, sanitize_logs
from feedback_assets.resources.feedback_store import FeedbackStoreResource

SCANNED = ("prompt", "response", "metadata")


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["raw_inferences"],
    kinds={"python", "sql"},
    description="Events and signals re-redacted (PII) and normalized (NFC, trimmed).",
    check_specs=[
        loop_check(
            "no_pii_leak",
            "sanitized_logs",
            "A re-scan of the stored rows finds no PII of any type.",
            blocking=True,
        )
    ],
)
def sanitized_logs(context: dg.AssetExecutionContext, feedback_store: FeedbackStoreResource):
    store = feedback_store.store()
    part = loop_partition(context)
    events = store.read_events(part.deployment_id, start_us=part.start_us, end_us=part.end_us)
    # Signals go with their event's day, whenever they arrived (late clicks join on re-run).
    signals = store.read_signals(event_ids=events["event_id"].tolist())
    custom = parse_custom_patterns(feedback_store.settings.pii_patterns)
    # Events the SDK redacted with this pattern set are only normalized (see pii_version).
    result = sanitize_logs(events, signals, custom, pattern_set_version(custom))
    only = [part.deployment_id]
    store.replace_partition("sanitized_logs", part.day, result.events, deployment_ids=only)
    store.replace_partition("sanitized_signals", part.day, result.signals, deployment_ids=only)
    stored = store.read_table(
        "sanitized_logs", partition_key=part.day, deployment_id=part.deployment_id
    )
    stored_signals = store.read_table(
        "sanitized_signals", partition_key=part.day, deployment_id=part.deployment_id
    )
    leaks = leak_counts(stored, SCANNED, custom)
    for entity, n in leak_counts(stored_signals, ("edited_response", "metadata"), custom).items():
        leaks[entity] = leaks.get(entity, 0) + n
    changed = int(result.events["redacted"].sum()) if len(result.events) else 0
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            "events": len(result.events),
            "signals": len(result.signals),
            "rows_changed": changed,
            "redactions": sum(result.redactions.values()),
            "redactions_by_entity": counts_table(result.redactions, "entity"),
            "preview": preview(
                result.events[result.events["redacted"]] if len(result.events) else result.events,
                ["prompt", "response"],
            ),
        }
    )
    found = {k: v for k, v in leaks.items() if v}
    yield dg.AssetCheckResult(
        check_name="no_pii_leak",
        passed=not found,
        metadata={"hits_by_entity": dg.MetadataValue.json(found), "rows_scanned": len(stored)},
    )
