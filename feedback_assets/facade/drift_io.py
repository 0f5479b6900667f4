"""Windows and history for the detect_drift / get_drift_history facade."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pandas as pd

from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_reports import Window, drift_report
from feedback_assets.domain.quality.quality import score_batch
from feedback_assets.domain.records import DriftReport
from feedback_assets.services.drift_reports import history_row
from feedback_assets.store import FeedbackStore, now_us
from feedback_assets.store.references import ensure_reference

MAX_REFERENCE_EVENTS = 50_000


def scored(events: pd.DataFrame) -> pd.DataFrame:
    """Quality computed on the fly (the facade works on a store of raw events)."""
    if events.empty:
        return pd.DataFrame({"event_id": pd.Series(dtype=object), "score": pd.Series(dtype=float)})
    quality = score_batch(events["response"]).reset_index(drop=True)
    return quality.assign(event_id=events["event_id"].to_numpy())


def _window(store: FeedbackStore, events: pd.DataFrame) -> Window:
    signals = store.read_signals(event_ids=events["event_id"].tolist())
    return Window(events, scored(events), signals)


def windows(
    store: FeedbackStore, deployment_id: str, current: pd.DataFrame
) -> tuple[Window, Window, str | None]:
    """The deployment's reference window and `current` (raw events), with quality and signals."""
    ref = ensure_reference(store, deployment_id)
    if ref is None:
        return _window(store, current.head(0)), _window(store, current), None
    reference = store.read_events(
        deployment_id=deployment_id, start_us=int(ref["start_us"]), end_us=int(ref["end_us"])
    ).head(MAX_REFERENCE_EVENTS)
    return _window(store, reference), _window(store, current), str(ref["reference_id"])


def detect(
    store: FeedbackStore,
    deployment_id: str,
    current: pd.DataFrame,
    config: DriftConfig,
    source: str,
    history_id: str | None = None,
) -> DriftReport:
    """Compare `current` with the reference and persist the verdict to the drift history."""
    reference, window, ref_id = windows(store, deployment_id, current)
    report, _ = drift_report(reference, window, deployment_id=deployment_id, config=config)
    persist(store, report, ref_id, window, source, history_id)
    return report


def persist(
    store: FeedbackStore,
    report: DriftReport,
    reference_id: str | None,
    current: Window,
    source: str,
    history_id: str | None = None,
) -> None:
    ts = current.events["timestamp_us"] if len(current.events) else pd.Series(dtype="int64")
    span = (int(ts.min()), int(ts.max()) + 1) if len(ts) else (None, None)
    row = history_row(
        report,
        reference_id,
        row_id=history_id or uuid.uuid4().hex,
        source=source,
        window=span,
        created_us=now_us(),
    )
    store.append("drift_history", [row])


def history(store: FeedbackStore, deployment_id: str, limit: int) -> list[dict[str, Any]]:
    frame = store.read_table(
        "drift_history",
        deployment_id=deployment_id,
        order_by=["created_us"],
        descending=True,
        limit=limit,
    )
    rows = frame.drop(columns=["timestamp"], errors="ignore").to_dict("records")
    for row in rows:
        row["reasons"] = json.loads(row["reasons"])
    return rows
