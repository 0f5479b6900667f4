"""sanitized_logs: redaction applied again plus normalization; proves nothing is left."""

import dagster as dg

from feedback_assets.defs.metadata import counts_table, preview
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.domain.pii.sanitize import pii_rules
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.services.sanitized_logs import sanitize_partition


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
    part = loop_partition(context)
    # Streamed in chunks; events the SDK redacted with this pattern set are only normalized.
    result = sanitize_partition(
        feedback_store.store(),
        part.day,
        part.deployment_id,
        (part.start_us, part.end_us),
        pii_rules(feedback_store.settings.pii_patterns, feedback_store.settings.pii_stages),
        feedback_store.chunk_rows,
    )
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            "events": result.events,
            "signals": result.signals,
            "rows_changed": result.rows_changed,
            "redactions": sum(result.redactions.values()),
            "redactions_by_entity": counts_table(dict(result.redactions), "entity"),
            "preview": preview(result.preview, ["prompt", "response"]),
        }
    )
    found = {k: v for k, v in result.leaks.items() if v}
    yield dg.AssetCheckResult(
        check_name="no_pii_leak",
        passed=not found,
        metadata={
            "hits_by_entity": dg.MetadataValue.json(found),
            "rows_scanned": result.rows_scanned,
        },
    )
