"""Partitions: day (UTC) x deployment, so each deployment-day is an independent run.

The deployment dimension is dynamic: `deployment_partitions_sensor` registers a deployment the
first time its traffic reaches the store. `retraining_runs` is partitioned by deployment alone.
"""

import warnings
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

from feedback_assets.settings import load_settings

DAY = "day"
DEPLOYMENT = "deployment"

day_partitions = dg.DailyPartitionsDefinition(
    start_date=load_settings().partition_start, timezone="UTC"
)
deployment_partitions = dg.DynamicPartitionsDefinition(name=DEPLOYMENT)
loop_partitions = dg.MultiPartitionsDefinition(
    {DAY: day_partitions, DEPLOYMENT: deployment_partitions}
)


@dataclass(frozen=True)
class LoopPartition:
    day: str  # the `partition_key` column of every derived table
    deployment_id: str
    start_us: int
    end_us: int


def loop_partition(context: dg.AssetExecutionContext) -> LoopPartition:
    """The run's deployment-day, with the day's [start, end) as epoch microseconds."""
    key = loop_partitions.get_partition_key_from_str(str(context.partition_key))
    window = day_partitions.time_window_for_partition_key(key.keys_by_dimension[DAY])
    return LoopPartition(
        day=key.keys_by_dimension[DAY],
        deployment_id=key.keys_by_dimension[DEPLOYMENT],
        start_us=_us(window.start),
        end_us=_us(window.end),
    )


def loop_key(day: str, deployment_id: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DAY: day, DEPLOYMENT: deployment_id})


def _us(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


def loop_check(
    name: str,
    asset: str,
    description: str,
    blocking: bool = False,
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetCheckSpec:
    """A check on a loop asset, recorded once per partition (deployment-day by default).

    Without partitions_def Dagster 1.13 records an unpartitioned result plus a "Skipped" row per
    partition. The option is marked preview; we accept that one warning here and nowhere else.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=Warning
        )
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            partitions_def=partitions_def or loop_partitions,
            blocking=blocking,
            description=description,
        )


def run_lineage(context: dg.AssetExecutionContext) -> list[str]:
    """This run's id and, for a re-execution, its root run's: the retraining run that
    registered the candidate this run evaluates or promotes is one of them."""
    root = context.run.tags.get("dagster/root_run_id")
    return [context.run.run_id, *([root] if root else [])]
