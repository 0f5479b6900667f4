"""quality_scores with the LLM judge on, against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from feedback_assets.defs.assets.quality_scores import quality_scores
from feedback_assets.defs.assets.raw_inferences import raw_inferences
from feedback_assets.defs.assets.sanitized_logs import sanitized_logs
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.defs.conftest import (
    DAYS,
    ingest,
    loop_key,
    register_deployments,
    resources_for,
)
from feedback_assets_tests.openai_server import OpenAICompatServer


def test_judge_scores_are_stored_cached_and_reported(
    loop_env: Path, instance: dg.DagsterInstance
) -> None:
    url = f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    ingest(url, loop_env / "data")
    with OpenAICompatServer() as server:
        judge = LLMJudgeResource(
            enabled=True,
            base_url=server.base_url,
            api_key="sk-test-key-not-real",
            model="judge-1",
            sample_rate=0.5,
            max_concurrency=4,
            timeout_s=10,
        )
        resources = {**resources_for(url, loop_env), "llm_judge": judge}
        register_deployments(instance)

        def run() -> dg.ExecuteInProcessResult:
            return dg.materialize(
                [raw_inferences, sanitized_logs, quality_scores],
                partition_key=loop_key(DAYS[0], "support-bot"),
                resources=resources,
                instance=instance,
            )

        first = run()
        calls = server.calls("/chat/completions")
        assert first.success and calls > 0
        [mat] = first.asset_materializations_for_node("quality_scores")
        bot = mat.metadata["judge"].value
        assert (
            0.3 < bot["judge_coverage"] < 0.7
            and bot["judge_calls"] > 0
            and not bot["judge_cap_hit"]
        )
        assert "judge_human_kappa" in bot

        stored = FeedbackStore(url).read_table("quality_scores", partition_key=DAYS[0])
        judged = stored["judge_score"].notna()
        assert judged.sum() == calls  # one call per judged event, the rest absent (NULL, never 1.0)
        assert set(stored.loc[~judged, "judge_status"]) == {"skipped_sample"}

        second = run()  # same events, same rubric and model: everything from the cache
        assert second.success and server.calls("/chat/completions") == calls
        again = FeedbackStore(url).read_table("quality_scores", partition_key=DAYS[0])
        assert again["judge_score"].notna().sum() == calls
