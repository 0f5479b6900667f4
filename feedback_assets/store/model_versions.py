"""A deployment's model versions: candidates, the gate's decisions, promotions, rollbacks.

Rows are keyed per deployment (two deployments may start from the same base model name). The
current model is the promoted version promoted last; before the first promotion it is the
model of the deployment's latest event. When the first candidate is registered, the version it
was trained from is recorded as the promoted baseline, so a rollback always has a version to
return to and the history starts where the loop started. A rollback promotes the parent again
(its decided_us moves to now), so "current" stays the last promotion by construction.
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
MAX_ID_CHARS = 256


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


def _first_seen(store: FeedbackStore, deployment_id: str, model_version_id: str) -> int | None:
    t = schema.events
    with store.engine.connect() as conn:
        first = conn.execute(
            sa.select(sa.func.min(t.c.timestamp_us)).where(
                t.c.deployment_id == deployment_id, t.c.model_version_id == model_version_id
            )
        ).scalar()
    return int(first) if first is not None else None


def _latest_event_model(store: FeedbackStore, deployment_id: str) -> str | None:
    t = schema.events
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(t.c.model_version_id)
            .where(t.c.deployment_id == deployment_id)
            .order_by(t.c.timestamp_us.desc())
            .limit(1)
        ).scalar()


def current_model_version(store: FeedbackStore, deployment_id: str) -> str | None:
    """The version serving the deployment: the last promoted, else the latest event's model."""
    rows = _versions(store, deployment_id)
    promoted = rows[rows["status"] == "promoted"]
    if len(promoted):
        when = promoted["decided_us"].fillna(promoted["registered_us"]).astype("int64")
        return str(promoted.loc[when.idxmax(), "model_version_id"])
    return _latest_event_model(store, deployment_id)


def check_version_id(model_version_id: object, parent: str | None = None) -> str:
    """A usable id a launcher reported, or ModelVersionError naming the reason."""
    if not isinstance(model_version_id, str) or not model_version_id.strip():
        raise ModelVersionError("model_version_id: the launcher reported no model id")
    if model_version_id != model_version_id.strip() or not model_version_id.isprintable():
        raise ModelVersionError(
            f"model_version_id: {model_version_id!r} has surrounding spaces or control characters"
        )
    if len(model_version_id) > MAX_ID_CHARS:
        raise ModelVersionError(f"model_version_id: longer than {MAX_ID_CHARS} characters")
    if model_version_id == parent:
        raise ModelVersionError(
            f"model_version_id: {model_version_id!r} is the model it was trained from"
        )
    return model_version_id


def _row(deployment_id: str, version: str, status: str, at: int, **values: Any) -> dict[str, Any]:
    return {
        "model_version_id": version,
        "deployment_id": deployment_id,
        "registered_us": at,
        "status": status,
        **values,
    }


def register_candidate(
    store: FeedbackStore,
    deployment_id: str,
    model_version_id: str,
    parent_model_version_id: str | None,
    retraining_run_id: str,
) -> None:
    check_version_id(model_version_id, parent_model_version_id)
    known = set(_versions(store, deployment_id)["model_version_id"])
    if model_version_id in known:
        raise ModelVersionError(
            f"model_version_id: {model_version_id!r} is already registered for "
            f"{deployment_id!r}; a launcher must report a new id"
        )
    now = now_us()
    new = []
    if parent_model_version_id and parent_model_version_id not in known:
        # It has served since its first event: that is when it became current.
        since = _first_seen(store, deployment_id, parent_model_version_id) or now - 1
        new.append(
            _row(
                deployment_id,
                parent_model_version_id,
                "promoted",
                now - 1,
                reasons=json.dumps([BASELINE_REASON]),
                decided_us=min(since, now - 1),
            )
        )
    new.append(
        _row(
            deployment_id,
            model_version_id,
            "candidate",
            now,
            parent_model_version_id=parent_model_version_id,
            retraining_run_id=retraining_run_id,
        )
    )
    try:
        store.append("model_versions", new)
    except sa.exc.IntegrityError as exc:  # a concurrent registration of the same id
        raise ModelVersionError(f"model_version_id: {model_version_id!r} already exists") from exc


def candidates(store: FeedbackStore, deployment_id: str) -> list[dict[str, Any]]:
    """Versions still awaiting the gate or promotion, oldest first."""
    rows = _versions(store, deployment_id)
    return rows[rows["status"] == "candidate"].to_dict("records")


def candidate_of_runs(
    store: FeedbackStore, deployment_id: str, run_ids: Sequence[str]
) -> dict[str, Any] | None:
    """The candidate a retraining run registered (a re-execution names its root run too)."""
    for row in reversed(candidates(store, deployment_id)):
        if row["retraining_run_id"] in run_ids:
            return row
    return None


def model_version(
    store: FeedbackStore, deployment_id: str, model_version_id: str
) -> dict[str, Any] | None:
    rows = _none_for_missing(
        store.read_table(
            "model_versions", deployment_id=deployment_id, model_version_id=model_version_id
        )
    )
    return rows.iloc[0].to_dict() if len(rows) else None


def decide(
    store: FeedbackStore,
    deployment_id: str,
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
    key = {"deployment_id": deployment_id, "model_version_id": model_version_id}
    if not store.update("model_versions", key, values):
        raise ModelVersionError(f"model_version_id: {model_version_id!r} is not registered")


def serve_again(
    store: FeedbackStore, deployment_id: str, model_version_id: str, reason: str
) -> None:
    """Make an earlier version current again (a rollback target), registering it if needed."""
    row = model_version(store, deployment_id, model_version_id)
    if row is None:
        store.append(
            "model_versions",
            [_row(deployment_id, model_version_id, "promoted", now_us(), reasons="[]")],
        )
        row = model_version(store, deployment_id, model_version_id)
    reasons = json.loads(row["reasons"]) if row and row["reasons"] else []
    decide(store, deployment_id, model_version_id, "promoted", [*reasons, reason])


def update_evaluation(
    store: FeedbackStore, deployment_id: str, model_version_id: str, evaluation: Mapping[str, Any]
) -> None:
    key = {"deployment_id": deployment_id, "model_version_id": model_version_id}
    store.update("model_versions", key, {"evaluation": json.dumps(dict(evaluation), default=str)})


def _iso(us: Any) -> str | None:
    if us is None or pd.isna(us):
        return None
    return datetime.fromtimestamp(int(us) / 1e6, UTC).isoformat()


def model_history(store: FeedbackStore, deployment_id: str) -> list[dict[str, Any]]:
    """Every version of the deployment, oldest first (api.get_model_history)."""
    return [
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
        for row in _versions(store, deployment_id).to_dict("records")
    ]
