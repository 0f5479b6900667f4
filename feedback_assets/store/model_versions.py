"""A deployment's model versions: candidates, the gate's decisions, promotions, rollbacks.

The current model is the promoted version promoted last (and not rolled back); before the
first promotion it is the model of the deployment's latest event. When the first candidate
is registered, the version it was trained from is recorded as the promoted baseline, so a
rollback always has a version to return to and the history starts where the loop started.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us

STATUSES: tuple[str, ...] = ("candidate", "promoted", "rejected", "rolled_back", "failed")
BASELINE_REASON = "serving before the first retraining (first seen in traffic)"


class ModelVersionError(ValueError):
    """A model version cannot be registered or changed; the message says which and why."""


def _versions(store: FeedbackStore, deployment_id: str) -> pd.DataFrame:
    rows = store.read_table(
        "model_versions", deployment_id=deployment_id, order_by=["registered_us"]
    )
    return _none_for_missing(rows)


def _none_for_missing(rows: pd.DataFrame) -> pd.DataFrame:
    # Absent values read back as NaN; callers test them as None.
    return rows.astype(object).where(rows.notna(), None)


def _latest_event_model(store: FeedbackStore, deployment_id: str) -> tuple[str | None, int | None]:
    t = schema.events
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(t.c.model_version_id, t.c.timestamp_us)
            .where(t.c.deployment_id == deployment_id)
            .order_by(t.c.timestamp_us.desc())
            .limit(1)
        ).first()
    return (row[0], int(row[1])) if row else (None, None)


def _first_seen(store: FeedbackStore, deployment_id: str, model_version_id: str) -> int | None:
    t = schema.events
    with store.engine.connect() as conn:
        first = conn.execute(
            sa.select(sa.func.min(t.c.timestamp_us)).where(
                t.c.deployment_id == deployment_id, t.c.model_version_id == model_version_id
            )
        ).scalar()
    return int(first) if first is not None else None


def current_model_version(store: FeedbackStore, deployment_id: str) -> str | None:
    """The version serving the deployment: the last promoted, else the latest event's model."""
    rows = _versions(store, deployment_id)
    promoted = rows[rows["status"] == "promoted"]
    if len(promoted):
        when = promoted["decided_us"].fillna(promoted["registered_us"]).astype("int64")
        return str(promoted.loc[when.idxmax(), "model_version_id"])
    return _latest_event_model(store, deployment_id)[0]


def register_candidate(
    store: FeedbackStore,
    deployment_id: str,
    model_version_id: str,
    parent_model_version_id: str | None,
    retraining_run_id: str,
) -> None:
    rows = _versions(store, deployment_id)
    taken = store.read_table("model_versions", model_version_id=model_version_id)
    if len(taken):
        raise ModelVersionError(
            f"model_version_id: {model_version_id!r} is already registered "
            f"(deployment {taken['deployment_id'].iloc[0]!r}); a launcher must report a new id"
        )
    now = now_us()
    new = []
    if parent_model_version_id and parent_model_version_id not in set(rows["model_version_id"]):
        # It has served since its first event: that is when it became current.
        since = _first_seen(store, deployment_id, parent_model_version_id) or now - 1
        new.append(
            {
                "model_version_id": parent_model_version_id,
                "deployment_id": deployment_id,
                "parent_model_version_id": None,
                "retraining_run_id": None,
                "registered_us": now - 1,
                "status": "promoted",
                "reasons": json.dumps([BASELINE_REASON]),
                "decided_us": min(since, now - 1),
            }
        )
    new.append(
        {
            "model_version_id": model_version_id,
            "deployment_id": deployment_id,
            "parent_model_version_id": parent_model_version_id,
            "retraining_run_id": retraining_run_id,
            "registered_us": now,
            "status": "candidate",
        }
    )
    store.append("model_versions", new)


def latest_candidate(store: FeedbackStore, deployment_id: str) -> dict[str, Any] | None:
    rows = _versions(store, deployment_id)
    candidates = rows[rows["status"] == "candidate"]
    return candidates.iloc[-1].to_dict() if len(candidates) else None


def model_version(store: FeedbackStore, model_version_id: str) -> dict[str, Any] | None:
    rows = _none_for_missing(store.read_table("model_versions", model_version_id=model_version_id))
    return rows.iloc[0].to_dict() if len(rows) else None


def decide(
    store: FeedbackStore,
    model_version_id: str,
    status: str,
    reasons: Sequence[str],
    evaluation: Mapping[str, Any] | None = None,
) -> None:
    """Record the gate's (or the regression watch's) decision on a version."""
    if status not in STATUSES:
        raise ModelVersionError(f"status: must be one of {list(STATUSES)}, got {status!r}")
    values: dict[str, Any] = {
        "status": status,
        "reasons": json.dumps(list(reasons)),
        "decided_us": now_us(),
    }
    if evaluation is not None:
        values["evaluation"] = json.dumps(dict(evaluation), default=str)
    if not store.update("model_versions", {"model_version_id": model_version_id}, values):
        raise ModelVersionError(f"model_version_id: {model_version_id!r} is not registered")


def _iso(us: Any) -> str | None:
    if us is None or pd.isna(us):
        return None
    return datetime.fromtimestamp(int(us) / 1e6, UTC).isoformat()


def model_history(store: FeedbackStore, deployment_id: str) -> list[dict[str, Any]]:
    """Every version of the deployment, oldest first (api.get_model_history)."""
    out = []
    for row in _versions(store, deployment_id).to_dict("records"):
        out.append(
            {
                "model_version_id": row["model_version_id"],
                "parent_model_version_id": row["parent_model_version_id"],
                "status": row["status"],
                "eval": json.loads(row["evaluation"]) if row["evaluation"] else {},
                "reasons": json.loads(row["reasons"]) if row["reasons"] else [],
                "created_at": _iso(row["registered_us"]),
                "decided_at": _iso(row["decided_us"]),
                "retraining_run_id": row["retraining_run_id"],
            }
        )
    return out
