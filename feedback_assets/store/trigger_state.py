"""The triggers' side of the store: the snapshot a decision reads, and what a decision writes.

Reads only precomputed state (drift history, stored quality scores, the latest live window,
curated counts, retraining runs): a sensor tick never computes a report.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers.plan import TickOutcome
from feedback_assets.domain.triggers.state import DriftWindow, LiveQuality, TriggerState
from feedback_assets.store import schema
from feedback_assets.store.exports import new_curated_count
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.references import active_reference

QUALITY_WINDOW = 1000  # the quality trigger's rolling window, in events
REFERENCE_SCORES = 5000  # enough for the relative test's power; bounded so a tick stays cheap


def _dt(us: Any) -> datetime | None:
    return None if us is None or pd.isna(us) else datetime.fromtimestamp(int(us) / 1e6, UTC)


def _first(frame: pd.DataFrame) -> dict[str, Any] | None:
    return None if frame.empty else {str(k): v for k, v in frame.iloc[0].items()}


def last_retraining(store: FeedbackStore, deployment_id: str) -> dict[str, Any] | None:
    return _first(
        store.read_table(
            "retraining_runs",
            deployment_id=deployment_id,
            order_by=["started_us"],
            descending=True,
            limit=1,
        )
    )


def load_trigger_state(
    store: FeedbackStore, deployment_id: str, in_flight: bool = False
) -> TriggerState:
    """The deployment's snapshot: what every trigger type decides on."""
    live = latest_live_window(store, deployment_id)
    scores, live_quality = _quality(store, deployment_id, live)
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
        drift_windows=_drift_windows(store, deployment_id),
        quality_scores=scores,
        live_quality=live_quality,
        **_reference_quality(store, deployment_id),
        new_curated_since_last_retrain=new_curated_count(store, deployment_id),
        last_retrain_finished_at=_dt(succeeded["finished_us"].iloc[0]) if len(succeeded) else None,
        last_retrain_status=None if last is None else str(last["status"]),
        last_attempt_at=None if last is None else _dt(last["started_us"]),
        last_retrain_run_id=None if last is None else str(last["run_id"]),
        in_flight=in_flight,
    )


def _drift_windows(store: FeedbackStore, deployment_id: str) -> list[DriftWindow]:
    """Every verdict since the active reference was set (assets, live windows, checks)."""
    ref = active_reference(store, deployment_id)
    since = {} if ref is None else {"reference_id": ref["reference_id"]}
    history = store.read_table(
        "drift_history", deployment_id=deployment_id, order_by=["window_end_us"], **since
    )
    return [
        DriftWindow(
            str(r["partition_key"] or r["id"]),
            bool(r["drifted"]),
            float(r["score"]),
            str(r["severity"]),
        )
        for r in history.to_dict("records")
    ]


def _quality(
    store: FeedbackStore, deployment_id: str, live: dict[str, Any] | None
) -> tuple[np.ndarray, LiveQuality | None]:
    """The latest stored scores, and the live aggregate when it covers newer traffic.

    The live window counts first; stored scores older than it fill the rolling window up.
    """
    q = schema.quality_scores
    mine = q.c.deployment_id == deployment_id
    with store.engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(q.c.timestamp_us)).where(mine)).scalar()
        use_live = (
            live is not None
            and int(live["quality_n"]) > 0
            and (newest is None or int(live["window_end_us"]) > int(newest))
        )
        limit, query = QUALITY_WINDOW, sa.select(q.c.score).where(mine)
        if use_live and live is not None:
            limit = max(QUALITY_WINDOW - int(live["quality_n"]), 0)
            query = query.where(q.c.timestamp_us < int(live["window_start_us"]))
        query = query.order_by(q.c.timestamp_us.desc()).limit(limit)
        scores = np.asarray(conn.execute(query).scalars().all(), dtype=float)
    if not use_live or live is None:
        return scores, None
    return scores, LiveQuality(str(live["id"]), float(live["quality_mean"]), int(live["quality_n"]))


def _reference_quality(store: FeedbackStore, deployment_id: str) -> dict[str, np.ndarray]:
    """Stored scores of the active drift reference window, and the latest scores after it."""
    ref = active_reference(store, deployment_id)
    if ref is None:
        return {}
    q = schema.quality_scores
    mine = q.c.deployment_id == deployment_id
    start, end = int(ref["start_us"]), int(ref["end_us"])
    inside = sa.select(q.c.score).where(mine, q.c.timestamp_us >= start, q.c.timestamp_us < end)
    after = (
        sa.select(q.c.score)
        .where(mine, q.c.timestamp_us >= end)
        .order_by(q.c.timestamp_us.desc())
        .limit(QUALITY_WINDOW)
    )
    with store.engine.connect() as conn:
        reference = conn.execute(inside.limit(REFERENCE_SCORES)).scalars().all()
        latest = conn.execute(after).scalars().all()
    return {
        "reference_quality_scores": np.asarray(reference, dtype=float),
        "scores_after_reference": np.asarray(latest, dtype=float),
    }


def latest_live_window(store: FeedbackStore, deployment_id: str) -> dict[str, Any] | None:
    return _first(
        store.read_table(
            "live_windows",
            deployment_id=deployment_id,
            order_by=["window_end_us"],
            descending=True,
            limit=1,
        )
    )


def write_live_window(
    store: FeedbackStore, window: dict[str, Any], history: dict[str, Any] | None
) -> None:
    """Replace the bucket's live window and its drift verdict, in one transaction."""
    key = window["id"]
    with store.engine.begin() as conn:
        conn.execute(schema.drift_history.delete().where(schema.drift_history.c.id == key))
        conn.execute(schema.live_windows.delete().where(schema.live_windows.c.id == key))
        conn.execute(schema.live_windows.insert(), [window])
        if history is not None:
            conn.execute(schema.drift_history.insert(), [history])


def record_outcome(store: FeedbackStore, source: str, outcome: TickOutcome) -> int:
    """A tick's outcome in trigger_history (nothing for a disabled type)."""
    run_key = outcome.plan.run_key if outcome.plan is not None else None
    return record_decisions(
        store, outcome.deployment_id, source, outcome.recorded, outcome.action, run_key
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
