"""quality_scores: every event scored by every heuristic check (+ the LLM judge when enabled)."""

import dagster as dg
import pandas as pd

from feedback_assets.defs.partitions import daily_partitions
from feedback_assets.domain.quality.judge import judge_agreement
from feedback_assets.domain.quality.quality import (
    CHECKS,
    QualityConfig,
    apply_judge,
    quality_stats,
    score_batch,
)
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.store.judge_cache import StoreJudgeCache
from feedback_assets.store.windows import partition_windows

KEEP = ("event_id", "deployment_id", "model_version_id", "timestamp_us")


class QualityScoresConfig(dg.Config):
    min_length: int = 20
    max_length: int = 4000
    quality_threshold: float = 0.7
    # Per deployment: the answer format it must produce ("json" | "markdown"); invalid = hard fail.
    expected_formats: dict[str, str] = {}


@dg.asset(
    group_name="feedback_loop",
    partitions_def=daily_partitions,
    deps=["sanitized_logs"],
    kinds={"python", "sql"},
    description="Per-event format, length, refusal and repetition checks, aggregate score, judge.",
    check_specs=[
        dg.AssetCheckSpec(
            "quality_above_threshold",
            asset="quality_scores",
            description="Warns when a deployment's mean quality falls below the threshold (0.7).",
        )
    ],
)
def quality_scores(
    context: dg.AssetExecutionContext,
    config: QualityScoresConfig,
    feedback_store: FeedbackStoreResource,
    llm_judge: LLMJudgeResource,
):
    store = feedback_store.store()
    pk = context.partition_key
    parts, per_deployment, judge_meta = [], {}, {}
    for deployment, window in partition_windows(store, pk).items():
        settings = QualityConfig(
            min_length=config.min_length,
            max_length=config.max_length,
            expected_format=config.expected_formats.get(deployment),
        )
        scored = score_batch(window.events["response"], settings)
        if llm_judge.enabled:
            run = llm_judge.judge(
                window.events[["event_id", "prompt", "response"]], StoreJudgeCache(store)
            )
            judged = window.events[["event_id"]].merge(run.results, on="event_id", how="left")
            scored = apply_judge(scored, judged["judge_score"].set_axis(scored.index), settings)
            scored["judge_status"] = judged["judge_status"].to_numpy()
            judge_meta[deployment] = {**run.metadata(), **judge_agreement(judged, window.signals)}
        frame = pd.concat(
            [window.events[list(KEEP)].reset_index(drop=True), scored.reset_index(drop=True)],
            axis=1,
        )
        parts.append(frame)
        per_deployment[deployment] = quality_stats(scored)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    store.replace_partition("quality_scores", pk, table)
    low = {
        d: s["mean"]
        for d, s in per_deployment.items()
        if s.get("n") and s["mean"] < config.quality_threshold
    }
    yield dg.MaterializeResult(
        metadata={
            "events_scored": len(table),
            "per_deployment": dg.MetadataValue.json(per_deployment),
            "pass_rate_by_check": dg.MetadataValue.json(
                {c: round(float(table[f"{c}_passed"].mean()), 4) for c in CHECKS}
                if len(table)
                else {}
            ),
            "judge_enabled": llm_judge.enabled,
            # Coverage, calls, tokens, cap, cache hits and kappa vs thumbs, per deployment.
            "judge": dg.MetadataValue.json(judge_meta),
        }
    )
    yield dg.AssetCheckResult(
        check_name="quality_above_threshold",
        passed=not low,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "below_threshold": dg.MetadataValue.json(low),
            "threshold": config.quality_threshold,
        },
    )
