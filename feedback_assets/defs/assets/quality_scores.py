"""quality_scores: every event scored by every heuristic check (+ the LLM judge when enabled)."""

import dagster as dg
import pandas as pd

from feedback_assets.defs.metadata import num, preview
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.domain.quality.quality import CHECKS
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.loop_settings import QualitySettings, TriggerSettings
from feedback_assets.services.quality_scores import score_partition


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["sanitized_logs"],
    kinds={"python", "sql"},
    description="Per-event format, length, refusal and repetition checks, aggregate score, judge.",
    check_specs=[
        loop_check(
            "quality_above_threshold",
            "quality_scores",
            "Warns when the mean quality falls below trigger_settings.quality_threshold.",
        )
    ],
)
def quality_scores(
    context: dg.AssetExecutionContext,
    feedback_store: FeedbackStoreResource,
    quality_settings: QualitySettings,
    trigger_settings: TriggerSettings,
    llm_judge: LLMJudgeResource,
):
    part = loop_partition(context)
    result = score_partition(
        feedback_store.store(),
        part.day,
        part.deployment_id,
        quality_settings.config(part.deployment_id),
        llm_judge,
        feedback_store.chunk_rows,
    )
    stats, table = result.stats, result.table
    raw_mean = stats.get("mean")
    mean = num(raw_mean)  # shown; the check decides on the exact value
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            "events_scored": len(table),
            # Numbers, so the UI plots them over partitions.
            **({"quality_mean": mean} if mean is not None else {}),
            **(
                {
                    "pass_rate": num(stats["pass_rate"]),
                    "hard_fail_rate": num(stats["hard_fail_rate"]),
                    "quality_p10": num(stats["p10"]),
                }
                if stats.get("n")
                else {}
            ),
            "pass_rate_by_check": _pass_rates(table),
            "judge_enabled": llm_judge.enabled,
            # Coverage, calls, tokens, cap, cache hits and kappa vs thumbs.
            "judge": dg.MetadataValue.json(result.judge),
        }
    )
    threshold = trigger_settings.quality_threshold
    yield dg.AssetCheckResult(
        check_name="quality_above_threshold",
        passed=raw_mean is None or raw_mean >= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "threshold": threshold,
            **({"quality_mean": mean} if mean is not None else {"status": "no data"}),
        },
    )


def _pass_rates(table: pd.DataFrame) -> dg.TableMetadataValue:
    rates = pd.DataFrame(
        {
            "check": list(CHECKS),
            "pass_rate": [
                float(table[f"{c}_passed"].mean()) if len(table) else None for c in CHECKS
            ],
        }
    ).astype({"check": "string", "pass_rate": "float64"})
    return preview(rates, ["check", "pass_rate"], rows=len(rates))
