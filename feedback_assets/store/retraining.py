"""retraining_runs rows (model versions: store/model_versions.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us


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
