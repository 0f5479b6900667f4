"""Score a deployment's events: heuristic checks, plus the LLM judge when it is enabled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from feedback_assets.domain.drift.drift_features import QUALITY_COLUMNS, event_feature_columns
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.quality.judge import judge_agreement
from feedback_assets.domain.quality.quality import apply_judge, quality_stats, score_batch
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.judge_cache import StoreJudgeCache
from feedback_assets.store.streams import CHUNK_ROWS, partition_writer, stream_partition
from feedback_assets.store.windows import deployment_window

KEEP = ("event_id", "deployment_id", "model_version_id", "timestamp_us")
# What event_features is computed from (besides the scores): read with the answers, once.
FEATURE_SOURCES = ("prompt", "user_id", "session_id", "token_count", "latency_ms", "metadata")
TABLES = ["quality_scores", "event_features"]


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


def feature_rows(events: pd.DataFrame, scored: pd.DataFrame, written_us: int) -> pd.DataFrame:
    """event_features rows of scored events: drift's per-event columns next to the quality
    columns drift reads (`scored` is score_window's table, row-aligned with `events`)."""
    out = event_feature_columns(events)
    for name in ("deployment_id", "model_version_id", "timestamp_us"):
        out[name] = events[name].to_numpy()
    for name in QUALITY_COLUMNS:
        if name in scored.columns:
            out[name] = scored[name].to_numpy()
    out["written_us"] = written_us
    return out


def score_partition(
    store: FeedbackStore,
    day: str,
    deployment_id: str,
    config: QualityConfig,
    judge: LLMJudgeResource | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ScoredWindow:
    """Score one deployment-day and replace its quality_scores and event_features rows (one
    transaction).

    Without the judge every check is per event, so the answers stream in chunks (only the
    columns scoring and the drift features read) and the kept table holds no text. The judge's
    cap, cache and agreement span the whole day: with it enabled the day is scored as one window.
    """
    written = now_us()
    if judge is not None and judge.enabled:
        window = deployment_window(store, day, deployment_id)
        result = score_window(store, window, config, judge)
        with partition_writer(store, TABLES, day, deployment_id) as write:
            write("quality_scores", result.table)
            write("event_features", feature_rows(window.events, result.table, written))
        return result
    parts: list[pd.DataFrame] = []
    columns = (*KEEP, "response", *FEATURE_SOURCES)
    with partition_writer(store, TABLES, day, deployment_id) as write:
        for chunk in stream_partition(
            store, "sanitized_logs", day, deployment_id, columns, chunk_rows=chunk_rows
        ):
            table = score_window(store, Window(chunk), config).table
            write("quality_scores", table)
            write("event_features", feature_rows(chunk, table, written))
            parts.append(table)
    if not parts:  # an empty day: the same (empty) columns
        empty = pd.DataFrame({c: [] for c in (*KEEP, "response")})
        parts = [score_window(store, Window(empty), config).table]
    table = pd.concat(parts, ignore_index=True)
    return ScoredWindow(table, quality_stats(table))
