"""The loop's thresholds as Dagster resources: one instance each, shown on the UI's resource page.

Assets, sensors, the schedule and the facade read these same objects (defs/resources.py builds
them from feedback_assets.settings), so a threshold has one source. Defaults are the original
library's.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from feedback_assets.domain.curation.curation import CurationConfig
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.domain.triggers.state import TriggerConfig


class TriggerSettings(dg.ConfigurableResource):
    """When retraining is due (sensors, schedule, facade) and the quality floor (checks)."""

    drift_threshold: float = Field(default=0.2, description="normalized drift score in [0, 1]")
    drift_consecutive_windows: int = Field(default=2, description="hysteresis: drifted windows")
    quality_threshold: float = Field(default=0.7, description="mean quality floor")
    quality_min_samples: int = 100
    data_count_threshold: int = Field(default=1000, description="new curated examples")
    schedule_interval_seconds: int = 86_400
    cooldown_seconds: int = Field(default=21_600, description="between retrainings")
    live_window_minutes: int = Field(
        default=60, description="the live_drift asset's window (and bucket) of recent traffic"
    )
    extra_thresholds: dict[str, float] = Field(
        default={}, description="thresholds of trigger types added beyond the seed's four, by name"
    )
    mode: Literal["launch", "suggest"] = Field(
        default="launch", description="suggest: record 'would retrain' without launching"
    )

    def config(self) -> TriggerConfig:
        return TriggerConfig(
            drift_threshold=self.drift_threshold,
            drift_consecutive_windows=self.drift_consecutive_windows,
            quality_threshold=self.quality_threshold,
            quality_min_samples=self.quality_min_samples,
            data_count_threshold=self.data_count_threshold,
            schedule_interval_seconds=self.schedule_interval_seconds,
            cooldown_seconds=self.cooldown_seconds,
            extra=dict(self.extra_thresholds),
        )


class DriftSettings(dg.ConfigurableResource):
    """How a window is compared with its deployment's reference."""

    min_samples: int = Field(default=100, description="below: no verdict")
    alpha: float = Field(default=DriftConfig.alpha, description="family-wise error of a verdict")
    correction: Literal["holm", "bonferroni", "bh", "none"] = Field(
        default="holm", description="family-wise correction across the verdict's tests"
    )
    reference_days: int = Field(default=2, description="the first N days are the reference")
    categorical_metadata_fields: list[str] = ["source"]

    def config(self) -> DriftConfig:
        return DriftConfig(
            min_samples=self.min_samples,
            alpha=self.alpha,
            correction=self.correction,
            categorical_metadata_fields=tuple(self.categorical_metadata_fields),
        )


class QualitySettings(dg.ConfigurableResource):
    """Heuristic quality checks; a deployment may promise an answer format."""

    min_length: int = 20
    max_length: int = 4000
    expected_formats: dict[str, str] = Field(
        default={}, description='per deployment: "json" | "markdown"; invalid output hard-fails'
    )

    def config(self, deployment_id: str | None = None) -> QualityConfig:
        return QualityConfig(
            min_length=self.min_length,
            max_length=self.max_length,
            expected_format=self.expected_formats.get(deployment_id or ""),
        )


class CurationSettings(dg.ConfigurableResource):
    """Which examples are worth learning from."""

    limit: int = Field(default=1000, description="per deployment and day")
    min_quality_score: float = 0.8
    max_hard_quality: float = 0.5
    min_judge_score: float = Field(default=0.8, description="judge-approved answers are sft")
    eval_share: float = Field(default=0.1, description="new prompt clusters held out for eval")
    max_refusal_share_in_positives: float = 0.05
    near_duplicate_threshold: float = 0.85

    def config(self) -> CurationConfig:
        return CurationConfig(
            limit=self.limit,
            min_quality_score=self.min_quality_score,
            max_hard_quality=self.max_hard_quality,
            min_judge_score=self.min_judge_score,
            eval_share=self.eval_share,
            max_refusal_share_in_positives=self.max_refusal_share_in_positives,
            near_duplicate_threshold=self.near_duplicate_threshold,
        )


class RetentionSettings(dg.ConfigurableResource):
    """How long raw rows are kept (FEEDBACK_RETENTION_DAYS); None keeps them forever."""

    days: int | None = Field(
        default=None,
        ge=1,
        description="raw events, signals and dead letters older than this many days are purged",
    )
