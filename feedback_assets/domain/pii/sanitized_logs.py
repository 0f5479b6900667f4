"""The sanitized_logs step: redact again (vectorized) and normalize events and signals.

Rows redacted at ingest with the current pattern set (their `pii_version`, see pii_version) are
only normalized: redacting them again would give the same text (the redaction is idempotent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feedback_assets.domain.pii.sanitize import (
    PiiRule,
    sanitize_column,
    scan_pii,
)
from feedback_assets.domain.pii.sanitize_json import sanitize_json_column

TEXT_COLUMNS = ("prompt", "response")


@dataclass
class SanitizedLogs:
    events: pd.DataFrame
    signals: pd.DataFrame
    redactions: Counter[str] = field(default_factory=Counter)


def _normalize(values: pa.Array) -> pa.Array:
    # NFC so the same text always compares (and dedupes) equal; trim edge whitespace.
    return pc.utf8_trim_whitespace(pc.utf8_normalize(values, form="NFC"))


def _clean(
    frame: pd.DataFrame,
    column: str,
    custom: Sequence[PiiRule],
    counts: Counter[str],
    todo: np.ndarray | None = None,
) -> pd.Series:
    """The column redacted (only the `todo` rows when given) and, for texts, normalized."""
    raw = pa.array(
        frame[column].astype(object).where(frame[column].notna(), None), pa.large_string()
    )
    fn = sanitize_json_column if column == "metadata" else sanitize_column
    if todo is None or todo.all():
        cleaned, found = fn(raw, custom)
    else:
        mask = pa.array(todo, pa.bool_())
        redone, found = fn(raw.filter(mask), custom)
        cleaned = pc.replace_with_mask(raw, mask, redone.cast(pa.large_string()))
    counts.update({k: v for k, v in found.items() if v})
    if column != "metadata":
        cleaned = _normalize(cleaned)
    return pd.Series(cleaned.to_pylist(), index=frame.index, dtype=object)


def needs_redaction(events: pd.DataFrame, version: str | None) -> np.ndarray | None:
    """Rows not redacted at ingest with pattern set `version` (None: every row)."""
    if version is None or "pii_version" not in events:
        return None
    return events["pii_version"].ne(version).to_numpy(dtype=bool)


def sanitize_logs(
    events: pd.DataFrame,
    signals: pd.DataFrame,
    custom: Sequence[PiiRule] = (),
    version: str | None = None,
) -> SanitizedLogs:
    """Redacted, normalized copies of events and signals, with redaction counts by entity.

    `version`: the current pattern-set version; events already redacted with it are skipped.
    """
    counts: Counter[str] = Counter()
    out_events = events.copy()
    changed = pd.Series(False, index=events.index)
    todo = needs_redaction(events, version)
    for column in (*TEXT_COLUMNS, "metadata"):
        cleaned = _clean(events, column, custom, counts, todo)
        changed |= cleaned.ne(events[column].astype(object)).fillna(False).astype(bool)
        out_events[column] = cleaned
    out_events["redacted"] = changed.to_numpy(dtype=bool)
    out_signals = signals.copy()
    for column in ("edited_response", "metadata"):
        if len(signals):
            out_signals[column] = _clean(signals, column, custom, counts)
    return SanitizedLogs(out_events, out_signals, counts)


def leak_counts(
    frame: pd.DataFrame, columns: Sequence[str], custom: Sequence[PiiRule] = ()
) -> dict[str, int]:
    """Re-scan: PII hits per entity still present in the given text columns (all zero = clean)."""
    total: Counter[str] = Counter()
    for column in columns:
        if column in frame and len(frame):
            values = pa.array(
                frame[column].astype(object).where(frame[column].notna(), None), pa.large_string()
            )
            total.update(scan_pii(values, custom))
    return {k: int(v) for k, v in total.items()}
