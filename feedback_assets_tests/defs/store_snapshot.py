"""Everything a loop run leaves behind, as comparable values: every store table's rows and every
export file's bytes, minus what is wall-clock time or where the run wrote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from feedback_assets.store import FeedbackStore
from feedback_assets.store.schema import metadata

# Columns that hold the wall-clock time a row was written (never derived from the data), or
# where the export root is (each backfill writes under its own root).
WALL_CLOCK = {
    "events": {"ingested_us"},
    "signals": {"ingested_us"},
    "drift_references": {"created_us"},
    "prompt_splits": {"created_us"},
    "export_marks": {"exported_us"},
    "export_batches": {"created_us", "root"},
    "event_features": {"written_us"},
}
# Caches of derived inputs, keyed by the random reference id and the time rows were written;
# what they feed is compared (drift_history).
CACHES = {"drift_reference_cache"}
# A random id (uuid4) given when a deployment's first drift reference is created; rows that
# point at it compare by the reference's window instead (drift_references.start_us/end_us).
RANDOM_IDS = {"drift_references": {"reference_id"}, "drift_history": {"reference_id"}}
# Keys of manifest.json that are wall-clock or location, not content, and the key of a saved
# HF dataset's state.json that `datasets` draws at random for data built from pandas (a cache
# key, not content: the Arrow files beside it are compared byte for byte).
MANIFEST_VOLATILE = {"created_at", "created_us", "root"}
HF_STATE_VOLATILE = {"_fingerprint"}


def table_rows(store: FeedbackStore, export_root: Path) -> dict[str, pd.DataFrame]:
    """Every table of the store, volatile columns dropped, rows in a canonical order."""
    out = {}
    for name in sorted(set(metadata.tables) - CACHES):
        frame = store.read_table(name)
        if name == "export_batches":  # the manifest as content: no times, no root
            frame["manifest"] = [
                json.dumps(_strip(json.loads(m), str(export_root)), sort_keys=True)
                for m in frame["manifest"]
            ]
        drop = WALL_CLOCK.get(name, set()) | RANDOM_IDS.get(name, set())
        frame = frame.drop(columns=sorted(drop & set(frame.columns)))
        frame = frame.astype(object).where(frame.notna(), None)
        ordered = frame.sort_values(list(frame.columns), key=lambda c: c.astype(str))
        out[name] = ordered.reset_index(drop=True)
    return out


def export_files(root: Path) -> dict[str, Any]:
    """Each file under the export root by relative path: its bytes, or for a manifest its
    parsed content without wall-clock and location keys."""
    out: dict[str, Any] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        if path.name == "manifest.json":
            out[rel] = _strip(json.loads(path.read_text()), str(root))
        elif path.name == "state.json":
            state = json.loads(path.read_text())
            out[rel] = {k: v for k, v in state.items() if k not in HF_STATE_VOLATILE}
        else:
            out[rel] = path.read_bytes()
    return out


def _strip(value: Any, root: str) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, root) for k, v in value.items() if k not in MANIFEST_VOLATILE}
    if isinstance(value, list):
        return [_strip(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(root, "<root>")
    return value
