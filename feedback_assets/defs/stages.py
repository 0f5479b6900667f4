"""The original library's pipeline stages as Dagster ops, for users' own jobs.

`export_feedback` (format, output_path, filters) and `check_triggers` (threshold, window_hours,
trigger_types). Every option is honoured; the original ignored all of check_triggers' options.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from feedback_assets.domain.export.registry import describe
from feedback_assets.domain.triggers.registry import canonical_types, with_threshold
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.loop_settings import DriftSettings, QualitySettings, TriggerSettings
from feedback_assets.services import training_exports
from feedback_assets.services.training_exports import CURATED_ROLES
from feedback_assets.services.triggers import check_deployment
from feedback_assets.services.windows import WindowSettings


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
    return training_exports.export_curated(
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
    # Registered trigger types or the original's names (drift, accuracy, feedback, volume, schedule).
    trigger_types: list[str] = ["drift", "accuracy", "volume"]


@dg.op(description="Evaluate retraining triggers; returns the fired decisions as dicts.")
def check_triggers(
    context: dg.OpExecutionContext,
    config: CheckTriggersConfig,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
    drift_settings: DriftSettings,
    quality_settings: QualitySettings,
    embedder: EmbedderResource,
    llm_judge: LLMJudgeResource,
) -> list[dict[str, Any]]:
    types = canonical_types(config.trigger_types)
    triggers = trigger_settings.config()
    if config.threshold is not None:
        triggers = with_threshold(triggers, types, config.threshold)
    decisions = check_deployment(
        feedback_store.store(),
        config.deployment_id,
        triggers,
        WindowSettings.from_resources(
            config.deployment_id, quality_settings, drift_settings, embedder, llm_judge
        ),
        types=types,
        window_hours=config.window_hours,
    )
    for d in decisions:
        context.log.info(f"{d.type}: {'FIRED' if d.fired else 'not fired'}: {d.reason}")
    return [{"type": d.type, "reason": d.reason, "values": d.values} for d in decisions if d.fired]
