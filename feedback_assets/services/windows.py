"""Windows built from ingested events, for work that cannot wait for a day's partition.

The live_drift asset, check_triggers and the facade read raw events and put them through the
same steps the sanitized_logs and quality_scores assets take (sanitize_logs, score_window), so a
store holding only ingested traffic gets the same verdicts the assets would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.pii.pii_version import pattern_set_version
from feedback_assets.domain.pii.sanitize import PiiRule, pii_rules
from feedback_assets.domain.pii.sanitized_logs import sanitize_logs
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.loop_settings import DriftSettings, QualitySettings
from feedback_assets.services.quality_scores import score_window
from feedback_assets.settings import load_settings
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.references import ensure_reference, partition_keys_between

# A reference is a sample of its days, not all of them: enough for every test at a bounded cost.
MAX_REFERENCE_EVENTS = 50_000


@dataclass(frozen=True)
class WindowSettings:
    """How a window of ingested events is judged: the settings objects the assets read."""

    quality: QualityConfig
    drift: DriftConfig
    reference_days: int = 2
    embed: Callable[[list[str]], np.ndarray] | None = None
    # the deployment's PII rules: FEEDBACK_PII_PATTERNS and FEEDBACK_PII_STAGES
    custom: tuple[PiiRule, ...] = ()
    judge: LLMJudgeResource | None = None

    @classmethod
    def from_resources(
        cls,
        deployment_id: str,
        quality: QualitySettings,
        drift: DriftSettings,
        embedder: EmbedderResource | None = None,
        judge: LLMJudgeResource | None = None,
    ) -> WindowSettings:
        settings = load_settings()
        return cls(
            quality=quality.config(deployment_id),
            drift=drift.config(),
            reference_days=drift.reference_days,
            embed=embedder.embed if embedder is not None else None,
            custom=pii_rules(settings.pii_patterns, settings.pii_stages),
            judge=judge,
        )


@dataclass
class FreshWindow:
    window: Window  # sanitized events, their quality rows, their sanitized signals
    stats: dict[str, Any]  # quality_stats of the window ("no data" when empty)
    judge: dict[str, Any]

    def scores(self) -> np.ndarray:
        """Every event's quality score (NaN where a score is absent)."""
        quality = self.window.quality
        if quality is None or quality.empty:
            return np.array([], dtype=float)
        return quality["score"].to_numpy(dtype=float)


def fresh_window(
    store: FeedbackStore, events: pd.DataFrame, settings: WindowSettings
) -> FreshWindow:
    """Ingested events (and their signals) sanitized and scored, as the loop's assets would."""
    events = events.reset_index(drop=True)
    signals = store.read_signals(event_ids=events["event_id"].tolist())
    clean = sanitize_logs(events, signals, settings.custom, pattern_set_version(settings.custom))
    scored = score_window(
        store, Window(clean.events, None, clean.signals), settings.quality, settings.judge
    )
    return FreshWindow(
        Window(clean.events, scored.table, clean.signals), scored.stats, scored.judge
    )


def reference_window(
    store: FeedbackStore,
    deployment_id: str,
    settings: WindowSettings,
    limit: int = MAX_REFERENCE_EVENTS,
) -> tuple[Window, str | None]:
    """The deployment's reference window (at most `limit` events) and its id.

    The materialized days (sanitized_logs + quality_scores) when there are any; otherwise the
    ingested events of the reference days, sanitized and scored on the fly.
    """
    ref = ensure_reference(store, deployment_id, settings.reference_days)
    if ref is None:
        return Window(store.read_events(deployment_id=deployment_id).head(0)), None
    start, end = int(ref["start_us"]), int(ref["end_us"])
    stored = store.read_table(
        "sanitized_logs",
        deployment_id=deployment_id,
        start_us=start,
        end_us=end,
        order_by=["timestamp_us", "event_id"],
        limit=limit,
    )
    if len(stored):
        upto = int(stored["timestamp_us"].max()) + 1
        quality_rows = store.read_table(
            "quality_scores", deployment_id=deployment_id, start_us=start, end_us=upto
        )
        signals = store.read_table(
            "sanitized_signals",
            partition_key=partition_keys_between(start, upto),
            deployment_id=deployment_id,
        )
        return Window(stored, quality_rows, signals), str(ref["reference_id"])
    raw = store.read_events(deployment_id=deployment_id, start_us=start, end_us=end).head(limit)
    return fresh_window(store, raw, settings).window, str(ref["reference_id"])
