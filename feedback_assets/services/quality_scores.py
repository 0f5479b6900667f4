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
from feedback_assets.store.streams import CHUNK_ROWS, partition_writer, stream_partition
from feedback_assets.store.windows import deployment_window

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


def score_partition(
    store: FeedbackStore,
    day: str,
    deployment_id: str,
    config: QualityConfig,
    judge: LLMJudgeResource | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ScoredWindow:
    """Score one deployment-day and replace its quality_scores rows.

    Without the judge every check is per event, so the answers stream in chunks (only the
    columns scoring reads) and the kept table holds no text. The judge's cap, cache and agreement
    span the whole day: with it enabled the day is scored as one window.
    """
    if judge is not None and judge.enabled:
        result = score_window(store, deployment_window(store, day, deployment_id), config, judge)
        store.replace_partition("quality_scores", day, result.table, deployment_ids=[deployment_id])
        return result
    parts: list[pd.DataFrame] = []
    columns = (*KEEP, "response")
    with partition_writer(store, ["quality_scores"], day, deployment_id) as write:
        for chunk in stream_partition(
            store, "sanitized_logs", day, deployment_id, columns, chunk_rows=chunk_rows
        ):
            table = score_window(store, Window(chunk), config).table
            write("quality_scores", table)
            parts.append(table)
    if not parts:  # an empty day: the same (empty) columns
        parts = [score_window(store, Window(pd.DataFrame({c: [] for c in columns})), config).table]
    table = pd.concat(parts, ignore_index=True)
    return ScoredWindow(table, quality_stats(table))
