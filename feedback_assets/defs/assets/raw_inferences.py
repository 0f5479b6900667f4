"""raw_inferences: the partition's validated events and signals, as the SDK stored them."""

import dagster as dg

from feedback_assets.defs.metadata import counts_by
from feedback_assets.defs.partitions import daily_partitions, window_us
from feedback_assets.resources.feedback_store import FeedbackStoreResource


@dg.asset(
    group_name="feedback_loop",
    partitions_def=daily_partitions,
    kinds={"python", "sql"},
    description="Events and user signals in the feedback store for the day (the SDK's system of record).",
    check_specs=[
        dg.AssetCheckSpec(
            "signals_have_events",
            asset="raw_inferences",
            description="Signals whose event was never seen (warn).",
        ),
    ],
)
def raw_inferences(context: dg.AssetExecutionContext, feedback_store: FeedbackStoreResource):
    store = feedback_store.store()
    start, end = window_us(context)
    events = store.read_events(start_us=start, end_us=end)
    signals = store.read_signals(start_us=start, end_us=end)
    dead = store.read_dead_letters(start_us=start, end_us=end)
    orphans = int(signals["deployment_id"].isna().sum()) if len(signals) else 0
    yield dg.MaterializeResult(
        metadata={
            "events": len(events),
            "signals": len(signals),
            "dead_letters": len(dead),
            "events_per_deployment": dg.MetadataValue.json(counts_by(events, "deployment_id")),
            "signals_per_type": dg.MetadataValue.json(counts_by(signals, "signal_type")),
            "dead_letters_per_kind": dg.MetadataValue.json(counts_by(dead, "kind")),
        }
    )
    yield dg.AssetCheckResult(
        check_name="signals_have_events",
        passed=orphans == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"orphan_signals": orphans},
        description="Signals can precede their event; a re-run after the event arrives joins them.",
    )
