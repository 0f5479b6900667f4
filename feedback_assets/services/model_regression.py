"""The regression watch after a promotion: the promoted version's live traffic against its
predecessor's, over equal windows either side of the promotion (domain model_regression)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from feedback_assets.domain.evaluation.model_regression import (
    RegressionConfig,
    RegressionVerdict,
    regression_verdict,
)
from feedback_assets.store import FeedbackStore
from feedback_assets.store.model_traffic import version_counts
from feedback_assets.store.model_versions import (
    current_model_version,
    model_version,
    update_evaluation,
)


@dataclass(frozen=True)
class RegressionWatch:
    deployment_id: str
    model_version_id: str  # the promoted version watched
    previous_model_version_id: str
    verdict: RegressionVerdict


def watch_regression(
    store: FeedbackStore,
    deployment_id: str,
    config: RegressionConfig,
    quality_floor: float,
    now: int,
) -> RegressionWatch | None:
    """None when there is nothing to watch: no promoted retrained version is current, or its
    verdict is already final (re-testing a growing window every tick would spend alpha again
    and again)."""
    current = current_model_version(store, deployment_id)
    row = model_version(store, deployment_id, current) if current else None
    if not row or row["status"] != "promoted" or not row["parent_model_version_id"]:
        return None
    recorded = json.loads(row["evaluation"]).get("regression", {}) if row["evaluation"] else {}
    if recorded.get("enough_data") and not recorded.get("regressed"):
        return None
    promoted_at = int(row["decided_us"] or row["registered_us"])
    span = max(now - promoted_at, 1)
    parent = str(row["parent_model_version_id"])
    after = version_counts(store, deployment_id, str(current), promoted_at, now, quality_floor)
    before = version_counts(
        store, deployment_id, parent, promoted_at - span, promoted_at, quality_floor
    )
    return RegressionWatch(
        deployment_id, str(current), parent, regression_verdict(after, before, config)
    )


def verdict_record(watch: RegressionWatch) -> dict[str, Any]:
    return {
        "regressed": watch.verdict.regressed,
        "enough_data": watch.verdict.enough_data,
        "tests": watch.verdict.tests,
        "reasons": watch.verdict.reasons,
    }


def record_verdict(store: FeedbackStore, watch: RegressionWatch, action: str) -> bool:
    """Keep the latest verdict in the version's evaluation (under "regression"); True if new."""
    row = model_version(store, watch.deployment_id, watch.model_version_id)
    evaluation = json.loads(row["evaluation"]) if row and row["evaluation"] else {}
    record = {**verdict_record(watch), "action": action}
    if evaluation.get("regression") == record:
        return False
    evaluation["regression"] = record
    update_evaluation(store, watch.deployment_id, watch.model_version_id, evaluation)
    return True
