"""Move one spooled segment into the feedback store (idempotent, chunked)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from feedback_assets.client.spool import read_segment

CHUNK = 20_000


def deliver_segment(store: Any, path: Path) -> Counter[str]:
    parsed = read_segment(path)
    counts: Counter[str] = Counter()
    for name, rows, insert in (
        ("events", parsed.events, store.insert_events),
        ("signals", parsed.signals, store.insert_signals),
        ("dead_letters", parsed.dead_letters, store.insert_dead_letters),
    ):
        for start in range(0, len(rows), CHUNK):
            result = insert(pd.DataFrame.from_records(rows[start : start + CHUNK]))
            counts[name] += result.inserted
            counts[f"{name}_duplicates"] += result.duplicates
    if parsed.corrupt_lines:
        counts["corrupt_lines"] += parsed.corrupt_lines
    return counts
