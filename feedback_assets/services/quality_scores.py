"""Score a deployment's events: heuristic checks, plus the LLM judge when it is enabled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.quality.judge import judge_agreement
from feedback_assets.domain.quality.quality import apply_judge, quality_stats, score_batch
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.judge_cache import StoreJudgeCache

KEEP = ("event_id", "deployment_id", "model_version_id", "timestamp_us")


@dataclass
class ScoredWindow:
    table: pd.DataFrame  # one row per event: KEEP columns + every check's result
    stats: dict[str, Any]
    judge: dict[str, Any] = field(default_factory=dict)


def score_window(
    store: FeedbackStore,
    window: Window,
    config: QualityConfig,
    judge: LLMJudgeResource | None = None,
) -> ScoredWindow:
    """Every event of the window scored; the judge's coverage and agreement when it ran."""
    events = window.events
    scored = score_batch(events["response"], config)
    judge_meta: dict[str, Any] = {}
    if judge is not None and judge.enabled and len(events):
        run = judge.judge(events[["event_id", "prompt", "response"]], StoreJudgeCache(store))
        judged = events[["event_id"]].merge(run.results, on="event_id", how="left")
        scored = apply_judge(scored, judged["judge_score"].set_axis(scored.index), config)
        scored["judge_status"] = judged["judge_status"].to_numpy()
        judge_meta = {**run.metadata(), **judge_agreement(judged, window.signals)}
    table = pd.concat(
        [events[list(KEEP)].reset_index(drop=True), scored.reset_index(drop=True)], axis=1
    )
    return ScoredWindow(table, quality_stats(scored), judge_meta)
