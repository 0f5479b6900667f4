"""Retention: raw rows older than FEEDBACK_RETENTION_DAYS whole UTC days are purged.

The rule for derived data (README, "Erasure, retention, alerts"): only the raw tables are purged
(events, signals, dead letters). Everything derived from them stays: sanitized copies, quality
scores, drift verdicts, curated examples, the eval set and export batches. The sanitized copies
carry the hashed user id, so forget_user still reaches every derived row of a user whose raw
events are gone, and drift references keep their rows. A day older than the retention period
must not be re-materialized: its raw input is gone, so its derived partitions would come back
empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback_assets.store import FeedbackStore
from feedback_assets.store.retention import purge_raw


@dataclass(frozen=True)
class RetentionResult:
    days: int
    cutoff: datetime
    purged: dict[str, Any]


def retention_cutoff(days: int, now: datetime) -> datetime:
    """Midnight UTC `days` days before `now`'s day: whole days go, never part of one."""
    if days < 1:
        raise ValueError(f"days: must be >= 1, got {days}")
    if now.tzinfo is None:
        raise ValueError("now: must be timezone-aware")
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def purge(store: FeedbackStore, days: int, now: datetime) -> RetentionResult:
    cutoff = retention_cutoff(days, now)
    return RetentionResult(days, cutoff, purge_raw(store, int(cutoff.timestamp() * 1_000_000)))
