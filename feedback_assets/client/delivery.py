"""Move spooled segments into the feedback store (idempotent, bulk)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from feedback_assets.client.spool import read_segments


def deliver_segments(store: Any, paths: list[Path]) -> Counter[str]:
    """Insert every record of `paths` (one bulk insert per kind); returns inserted/dup counts."""
    parsed = read_segments(paths)
    counts: Counter[str] = Counter()
    for name, frame, insert in (
        ("events", parsed.events, store.insert_events),
        ("signals", parsed.signals, store.insert_signals),
        ("dead_letters", parsed.dead_letters, store.insert_dead_letters),
    ):
        if frame.height:
            result = insert(frame)
            counts[name] += result.inserted
            counts[f"{name}_duplicates"] += result.duplicates
    if parsed.corrupt_lines:
        counts["corrupt_lines"] += parsed.corrupt_lines
    return counts


def deliver_segment(store: Any, path: Path) -> Counter[str]:
    return deliver_segments(store, [path])
