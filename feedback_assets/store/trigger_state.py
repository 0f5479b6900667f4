"""Trigger inputs read from the store, and the trigger history written back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.triggers import DriftWindow, TriggerState
from feedback_assets.store.exports import new_curated_count
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.references import active_reference

QUALITY_WINDOW = 1000


def _dt(us: Any) -> datetime | None:
    return None if us is None or pd.isna(us) else datetime.fromtimestamp(int(us) / 1e6, UTC)


def last_retraining(store: FeedbackStore, deployment_id: str) -> dict[str, Any] | None:
    runs = store.read_table(
        "retraining_runs",
        deployment_id=deployment_id,
        order_by=["started_us"],
        descending=True,
        limit=1,
    )
    return None if runs.empty else runs.iloc[0].to_dict()


def load_trigger_state(
    store: FeedbackStore, deployment_id: str, in_flight: bool = False
) -> TriggerState:
    ref = active_reference(store, deployment_id)
    history = store.read_table(
        "drift_history", deployment_id=deployment_id, order_by=["window_end_us"]
    )
    if ref is not None and len(history):
        history = history[history["reference_id"] == ref["reference_id"]]
    windows = [
        DriftWindow(
            str(r["partition_key"] or r["id"]),
            bool(r["drifted"]),
            float(r["score"]),
            str(r["severity"]),
        )
        for r in history.to_dict("records")
    ]
    scores = store.read_table(
        "quality_scores",
        deployment_id=deployment_id,
        order_by=["timestamp_us"],
        descending=True,
        limit=QUALITY_WINDOW,
    )
    succeeded = store.read_table(
        "retraining_runs",
        deployment_id=deployment_id,
        status="succeeded",
        order_by=["finished_us"],
        descending=True,
        limit=1,
    )
    last = last_retraining(store, deployment_id)
    return TriggerState(
        deployment_id=deployment_id,
        drift_windows=windows,
        quality_scores=scores["score"].to_numpy(dtype=float) if len(scores) else (),
        new_curated_since_last_retrain=new_curated_count(store, deployment_id),
        last_retrain_finished_at=_dt(succeeded["finished_us"].iloc[0]) if len(succeeded) else None,
        last_retrain_status=None if last is None else str(last["status"]),
        last_attempt_at=None if last is None else _dt(last["started_us"]),
        in_flight=in_flight,
    )


def record_decisions(
    store: FeedbackStore,
    deployment_id: str,
    source: str,
    decisions: Sequence[TriggerDecision],
    action: str,
    run_key: str | None = None,
) -> int:
    """Append decisions to trigger_history, skipping one identical to the last recorded."""
    rows = []
    for d in decisions:
        last = store.read_table(
            "trigger_history",
            deployment_id=deployment_id,
            source=source,
            trigger_type=d.type,
            order_by=["evaluated_us"],
            descending=True,
            limit=1,
        )
        if (
            len(last)
            and bool(last["fired"].iloc[0]) == d.fired
            and last["reason"].iloc[0] == d.reason
            and last["action"].iloc[0] == action
        ):
            continue
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "deployment_id": deployment_id,
                "source": source,
                "trigger_type": d.type,
                "fired": d.fired,
                "reason": d.reason,
                "trigger_values": json.dumps(d.values, default=str),
                "action": action,
                "run_key": run_key,
                "evaluated_us": now_us(),
            }
        )
    return store.append("trigger_history", pd.DataFrame(rows)) if rows else 0
