"""raw_inferences: a deployment-day's validated events and signals, as the SDK stored them."""

import dagster as dg

from feedback_assets.defs.metadata import counts_by, counts_table
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.resources.feedback_store import FeedbackStoreResource


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
    store = feedback_store.store()
    part = loop_partition(context)
    events = store.read_events(part.deployment_id, start_us=part.start_us, end_us=part.end_us)
    signals = store.read_signals(event_ids=events["event_id"].tolist())
    # Orphans and dead letters have no deployment: they are counted for the whole day.
    day_signals = store.read_signals(start_us=part.start_us, end_us=part.end_us)
    orphans = int(day_signals["deployment_id"].isna().sum()) if len(day_signals) else 0
    dead = store.read_dead_letters(start_us=part.start_us, end_us=part.end_us)
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            "events": len(events),
            "signals": len(signals),
            "dead_letters_day_all_deployments": len(dead),
            "signals_per_type": counts_table(counts_by(signals, "signal_type"), "signal_type"),
            "dead_letters_per_kind": counts_table(counts_by(dead, "kind"), "kind"),
        }
    )
    yield dg.AssetCheckResult(
        check_name="signals_have_events",
        passed=orphans == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"orphan_signals_day_all_deployments": orphans},
    )
