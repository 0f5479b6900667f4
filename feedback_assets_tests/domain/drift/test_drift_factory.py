"""Synthetic event windows for the drift tests (seeded, vectorized where it matters)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from feedback_assets.domain.records import EVENT_COLUMNS, SIGNAL_COLUMNS

WORDS = np.array(
    [
        "the",
        "model",
        "answer",
        "request",
        "customer",
        "order",
        "account",
        "invoice",
        "latency",
        "python",
        "function",
        "value",
        "error",
        "stack",
        "trace",
        "database",
        "query",
        "index",
        "table",
        "schema",
        "service",
        "endpoint",
        "token",
        "budget",
    ]
)
TOPIC = np.array(["kubernetes", "helm", "chart", "rollout", "pod", "ingress", "autoscaler", "node"])


def _texts(rng: np.random.Generator, lengths: np.ndarray, topic_mask: np.ndarray) -> list[str]:
    out = []
    for k, topical in zip(lengths, topic_mask, strict=True):
        vocab = TOPIC if topical else WORDS
        out.append(" ".join(vocab[rng.integers(0, len(vocab), size=max(int(k), 1))]))
    return out


def make_events(
    n: int,
    seed: int,
    *,
    response_scale: float = 1.0,
    versions: tuple[str, ...] = ("v1",),
    version_p: tuple[float, ...] | None = None,
    topic_share: float = 0.0,
    start: datetime | None = None,
    deployment_id: str = "dep",
    metadata: list[dict] | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prompt_words = rng.poisson(20, n) + 1
    resp_words = np.maximum((rng.lognormal(3.5, 0.4, n) * response_scale).astype(int), 1)
    topical = rng.random(n) < topic_share
    t0 = start or datetime(2026, 1, 1, tzinfo=UTC)
    return pd.DataFrame(
        {
            "event_id": [f"e{seed}-{i}" for i in range(n)],
            "deployment_id": deployment_id,
            "model_version_id": rng.choice(list(versions), size=n, p=version_p),
            "user_id": "u",
            "prompt": _texts(rng, prompt_words, topical),
            "response": _texts(rng, resp_words, topical),
            "latency_ms": rng.gamma(4.0, 100.0, n),
            "token_count": prompt_words + resp_words,
            "input_tokens": prompt_words,
            "output_tokens": resp_words,
            "trace_id": None,
            "session_id": None,
            "metadata": [json.dumps(m) for m in metadata] if metadata else "{}",
            "timestamp": pd.to_datetime(
                [t0 + timedelta(minutes=int(i)) for i in range(n)], utc=True
            ),
        },
        columns=list(EVENT_COLUMNS),
    )


def make_quality(events: pd.DataFrame, seed: int, refusal_rate: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 7)
    n = len(events)
    return pd.DataFrame(
        {
            "event_id": events["event_id"].to_numpy(),
            "score": rng.beta(8, 2, n),
            "format_kind": rng.choice(["plain", "markdown", "json"], size=n, p=[0.6, 0.3, 0.1]),
            "refusal_passed": rng.random(n) >= refusal_rate,
            "length_passed": rng.random(n) < 0.95,
            "format_passed": rng.random(n) < 0.97,
            "repetition_passed": rng.random(n) < 0.99,
        }
    )


def make_signals(events: pd.DataFrame, seed: int, thumbs_down_rate: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 11)
    ids = events["event_id"].to_numpy()
    chosen = ids[rng.random(len(ids)) < thumbs_down_rate]
    return pd.DataFrame(
        {
            "signal_id": [f"s-{e}" for e in chosen],
            "event_id": chosen,
            "signal_type": "thumbs_down",
            "user_id": "u",
            "edited_response": None,
            "metadata": "{}",
            "timestamp": pd.Timestamp("2026-01-02", tz="UTC"),
        },
        columns=list(SIGNAL_COLUMNS),
    )
