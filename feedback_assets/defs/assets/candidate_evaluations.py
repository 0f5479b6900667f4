"""candidate_evaluations: the retrained candidate against the current model on the eval set.

The blocking check candidate_not_worse gates model_promotions: a rejected candidate stops the
run there, with the evaluation's numbers and reasons on the check.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from feedback_assets.defs.metadata import history_table
from feedback_assets.defs.partitions import deployment_partitions, loop_check, run_lineage
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.loop_settings import QualitySettings
from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
from feedback_assets.services.candidate_evaluations import EvaluationFailed, evaluate_candidate
from feedback_assets.store.model_versions import model_history

NUMBERS = ("prompts", "wins", "ties", "losses", "p_better", "p_worse", "eval_calls", "eval_tokens")
SHOWN_PROMPTS = 10


@dg.asset(
    group_name="feedback_loop",
    partitions_def=deployment_partitions,
    deps=["retraining_runs"],
    kinds={"python", "openai"},
    description="The candidate and the current model answer the frozen eval set; paired test.",
    check_specs=[
        loop_check(
            "candidate_not_worse",
            "candidate_evaluations",
            "The candidate is not worse than the current model (sign test over eval prompts).",
            blocking=True,
            partitions_def=deployment_partitions,
        )
    ],
)
def candidate_evaluations(
    context: dg.AssetExecutionContext,
    feedback_store: FeedbackStoreResource,
    model_evaluator: ModelEvaluatorResource,
    llm_judge: LLMJudgeResource,
    quality_settings: QualitySettings,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    deployment = context.partition_key
    store = feedback_store.store()
    try:
        result = evaluate_candidate(
            store,
            model_evaluator,
            llm_judge,
            deployment,
            quality_settings.config(deployment),
            run_ids=run_lineage(context),
        )
    except EvaluationFailed as exc:
        raise dg.Failure(description=str(exc), metadata=_metadata(exc.metadata)) from exc
    per_prompt = result.pop("per_prompt", None)
    metadata = _metadata(result)
    if per_prompt is not None:
        metadata["examples"] = dg.MetadataValue.md(_examples(per_prompt))
    metadata["history"] = dg.MetadataValue.md(history_table(model_history(store, deployment)))
    yield dg.MaterializeResult(metadata=metadata)
    yield dg.AssetCheckResult(
        check_name="candidate_not_worse",
        passed=result["status"] == "passed",
        metadata={k: v for k, v in metadata.items() if k not in ("examples", "history")},
        description="; ".join(result["reasons"]),
    )


def _metadata(values: dict) -> dict:
    out: dict = {}
    for key, value in values.items():
        if key in NUMBERS and isinstance(value, float):
            out[key] = dg.MetadataValue.float(value)
        elif isinstance(value, int | float | str | bool) or value is None:
            out[key] = "" if value is None else value
        else:
            out[key] = dg.MetadataValue.json(value)
    return out


def _cell(text: object, limit: int = 80) -> str:
    flat = " ".join(str(text or "").split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _examples(per_prompt: pd.DataFrame) -> str:
    outcome = {1: "win", 0: "tie", -1: "loss"}
    rows = [
        f"| {_cell(r.prompt)} | {outcome[int(r.outcome)]} | {_cell(r.candidate_answer)} "
        f"| {_cell(r.current_answer)} |"
        for r in per_prompt.head(SHOWN_PROMPTS).itertuples()
    ]
    head = "| prompt | candidate | candidate answer | current answer |\n|---|---|---|---|"
    return "\n".join([head, *rows])
