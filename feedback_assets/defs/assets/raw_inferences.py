"""raw_inferences: a deployment-day's validated events and signals, as the SDK stored them."""

import dagster as dg

from feedback_assets.defs.metadata import counts_table
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.store.partition_counts import partition_counts


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    kinds={"python", "sql"},
    description="Events and user signals in the feedback store (the SDK's system of record).",
    check_specs=[
        loop_check(
            "signals_have_events",
            "raw_inferences",
            "Signals of the day whose event was never seen, any deployment (warn).",
        ),
    ],
)
def raw_inferences(context: dg.AssetExecutionContext, feedback_store: FeedbackStoreResource):
    part = loop_partition(context)
    # Counted in SQL: no rows are read. Orphans and dead letters have no deployment: they are
    # counted for the whole day.
    counts = partition_counts(
        feedback_store.store(), part.deployment_id, part.start_us, part.end_us
    )
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            "events": counts.events,
            "signals": counts.signals,
            "dead_letters_day_all_deployments": sum(counts.dead_letters_per_kind.values()),
            "signals_per_type": counts_table(counts.signals_per_type, "signal_type"),
            "dead_letters_per_kind": counts_table(counts.dead_letters_per_kind, "kind"),
        }
    )
    yield dg.AssetCheckResult(
        check_name="signals_have_events",
        passed=counts.orphan_signals_day == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"orphan_signals_day_all_deployments": counts.orphan_signals_day},
    )
