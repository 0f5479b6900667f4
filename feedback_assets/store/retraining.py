"""retraining_runs rows and model versions."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us


def base_model_version(store: FeedbackStore, deployment_id: str) -> str | None:
    """The deployment's newest registered model, else the model of its latest event."""
    registered = store.read_table(
        "model_versions",
        deployment_id=deployment_id,
        order_by=["registered_us"],
        descending=True,
        limit=1,
    )
    if len(registered):
        return str(registered["model_version_id"].iloc[0])
    t = schema.events
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(t.c.model_version_id)
            .where(t.c.deployment_id == deployment_id)
            .order_by(t.c.timestamp_us.desc())
            .limit(1)
        ).scalar()


def start_run(
    store: FeedbackStore,
    run_id: str,
    deployment_id: str,
    trigger_types: Sequence[str],
    reasons: Sequence[str],
    launcher: str,
    base_model_version_id: str | None,
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            schema.retraining_runs.delete().where(schema.retraining_runs.c.run_id == run_id)
        )
        conn.execute(
            schema.retraining_runs.insert().values(
                run_id=run_id,
                deployment_id=deployment_id,
                trigger_types=json.dumps(list(trigger_types)),
                reasons=json.dumps(list(reasons)),
                launcher=launcher,
                status="running",
                base_model_version_id=base_model_version_id,
                started_us=now_us(),
            )
        )


def finish_run(
    store: FeedbackStore,
    run_id: str,
    status: str,
    *,
    finished_us: int | None = None,
    **values: object,
) -> None:
    store.update(
        "retraining_runs",
        {"run_id": run_id},
        {"status": status, "finished_us": finished_us or now_us(), **values},
    )
