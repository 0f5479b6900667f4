"""The evaluation gate's cost: seconds and calls per 100 eval prompts against the demo's local
OpenAI-compatible server (a tiny retrieval model as the candidate, the traffic stand-in as the
current model), at the default concurrency beside one call at a time (the naive baseline).

    python -m bench.bench_gate [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import print_table

DEP = "bench-bot"


def _fixture(root: Path, prompts: int) -> tuple[str, Path]:
    """A store with a logged model's traffic and an eval set, and a trained candidate."""
    from feedback_assets.demo import tiny_model
    from feedback_assets.store import FeedbackStore
    from feedback_assets.store.eval_set import add_splits
    from feedback_assets.store.model_versions import register_candidate

    rng = np.random.default_rng(0)
    topics = [f"topic{i}" for i in range(40)]
    asked = [
        f"How do I configure {rng.choice(topics)} option {i} for my account?"
        for i in range(4 * prompts)
    ]
    answers = [
        f"Open settings, find {q.split()[3]}, set option {i}, and save."
        for i, q in enumerate(asked)
    ]
    url = f"sqlite:///{root / 'feedback.db'}"
    store = FeedbackStore(url)
    n = len(asked)
    store.insert_events(
        pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(n)],
                "deployment_id": DEP,
                "model_version_id": "bench-v1",
                "prompt": asked,
                "response": answers,
                "metadata": "{}",
                "latency_ms": 10.0,
                "token_count": pd.array([12] * n, dtype="Int64"),
                "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
                + pd.to_timedelta(range(n), unit="s"),
            }
        )
    )
    held = pd.DataFrame(
        {
            "prompt_key": [f"k{i:05d}" for i in range(prompts)],
            "cluster_key": [f"c{i:05d}" for i in range(prompts)],
            "split": "eval",
            "prompt": asked[:prompts],
            "reference_answer": answers[:prompts],
            "source": "approved",
            "event_id": [f"e{i}" for i in range(prompts)],
        }
    )
    add_splits(store, DEP, "2026-01-01", held)
    models = root / "models"
    tiny_model.save(tiny_model.fit(asked[prompts:], answers[prompts:]), models / "bench-ft-1")
    register_candidate(store, DEP, "bench-ft-1", "bench-v1", "bench-run")
    store.dispose()
    return url, models


def _measure(url: str, base_url: str, prompts: int, concurrency: int) -> dict[str, object]:
    from feedback_assets.resources.llm_judge import LLMJudgeResource
    from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
    from feedback_assets.services.candidate_evaluations import evaluate_candidate
    from feedback_assets.store import FeedbackStore
    from feedback_assets.store.model_versions import decide

    store = FeedbackStore(url)
    decide(store, DEP, "bench-ft-1", "candidate", [])  # evaluate the same candidate again
    evaluator = ModelEvaluatorResource(
        base_url=base_url, api_key="bench", max_prompts=prompts, max_concurrency=concurrency
    )
    started = time.perf_counter()
    result = evaluate_candidate(store, evaluator, LLMJudgeResource(enabled=False), DEP)
    seconds = time.perf_counter() - started
    store.dispose()
    per_100 = 100 / prompts
    return {
        "path": f"concurrency {concurrency}" + (" (naive)" if concurrency == 1 else ""),
        "prompts": result["prompts"],
        "calls": result["eval_calls"],
        "calls / 100 prompts": round(result["eval_calls"] * per_100),
        "tokens / 100 prompts": round(result["eval_tokens"] * per_100),
        "seconds": round(seconds, 2),
        "s / 100 prompts": round(seconds * per_100, 2),
        "verdict": f"{result['verdict']} ({result['wins']}/{result['ties']}/{result['losses']})",
    }


def main(quick: bool = False) -> None:
    from feedback_assets.demo.model_server_process import ModelServerProcess

    prompts = 50 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        url, models = _fixture(Path(tmp), prompts)
        with ModelServerProcess(models, url) as server:
            rows = [_measure(url, server.base_url, prompts, c) for c in (1, 4)]
    print_table("evaluation gate: candidate vs current on the eval set (local server)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
