"""The original library's pipeline stages as Dagster ops, for users' own jobs.

`export_feedback` (format, output_path, filters) and `check_triggers` (threshold, window_hours,
trigger_types). Every option is honoured; the original ignored all of check_triggers' options.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from feedback_assets.domain.export.registry import describe
from feedback_assets.facade import curation_io, triggers_io
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.services.training_exports import CURATED_ROLES

# The original's trigger type names, mapped to ours (ours are accepted as they are).
TRIGGER_ALIASES = {
    "drift": "drift_threshold",
    "accuracy": "quality_drop",
    "feedback": "quality_drop",
    "volume": "data_count",
    "schedule": "scheduled",
}
THRESHOLD_FIELD = {
    "drift_threshold": "drift_threshold",
    "quality_drop": "quality_threshold",
    "data_count": "data_count_threshold",
    "scheduled": "schedule_interval_seconds",
}


class ExportFeedbackConfig(dg.Config):
    deployment_id: str
    format: str = Field(default="jsonl", description=f"export format: {describe(CURATED_ROLES)}")
    output_path: str | None = None  # relative to the export root
    curation_source: list[str] = []  # filters
    min_score: float | None = None
    model_version_id: str | None = None
    limit: int | None = None
    include_exported: bool = False


@dg.op(description="Export curated feedback for retraining; returns the path written.")
def export_feedback(config: ExportFeedbackConfig, feedback_store: FeedbackStoreResource) -> str:
    filters: dict[str, Any] = {}
    if config.curation_source:
        filters["curation_source"] = config.curation_source
    if config.min_score is not None:
        filters["min_score"] = config.min_score
    if config.model_version_id is not None:
        filters["model_version_id"] = config.model_version_id
    return curation_io.export_curated(
        feedback_store.store(),
        feedback_store.resolved_export_root(),
        config.deployment_id,
        config.format,
        config.output_path,
        filters,
        config.limit,
        config.include_exported,
    )


class CheckTriggersConfig(dg.Config):
    deployment_id: str
    # Applied to each requested type, in its own unit (drift score, quality mean, count, seconds).
    threshold: float | None = None
    window_hours: float | None = 24.0
    trigger_types: list[str] = ["drift", "accuracy", "volume"]


def canonical_types(names: list[str]) -> list[str]:
    out = [TRIGGER_ALIASES.get(n, n) for n in names]
    unknown = sorted(set(out) - set(THRESHOLD_FIELD))
    if unknown:
        raise ValueError(
            f"trigger_types: unknown {unknown}; use {sorted([*TRIGGER_ALIASES, *THRESHOLD_FIELD])}"
        )
    return list(dict.fromkeys(out))


@dg.op(description="Evaluate retraining triggers; returns the fired decisions as dicts.")
def check_triggers(
    context: dg.OpExecutionContext,
    config: CheckTriggersConfig,
    feedback_store: FeedbackStoreResource,
) -> list[dict[str, Any]]:
    types = canonical_types(config.trigger_types)
    overrides: dict[str, Any] = {}
    if config.threshold is not None:
        for t in types:
            value = config.threshold
            field = THRESHOLD_FIELD[t]
            overrides[field] = (
                int(value)
                if field in ("data_count_threshold", "schedule_interval_seconds")
                else value
            )
    decisions = triggers_io.evaluate_triggers(
        feedback_store.store(),
        config.deployment_id,
        types=types,
        window_hours=config.window_hours,
        **overrides,
    )
    for d in decisions:
        context.log.info(f"{d.type}: {'FIRED' if d.fired else 'not fired'}: {d.reason}")
    return [{"type": d.type, "reason": d.reason, "values": d.values} for d in decisions if d.fired]
