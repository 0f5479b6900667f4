"""Daily time partitions (UTC) shared by the feedback_loop assets."""

import os
from datetime import datetime

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("FEEDBACK_PARTITION_START", "2026-01-01"), timezone="UTC"
)


def window_us(context: dg.AssetExecutionContext) -> tuple[int, int]:
    """The partition's [start, end) as epoch microseconds."""
    window = context.partition_time_window
    return _us(window.start), _us(window.end)


def _us(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)
