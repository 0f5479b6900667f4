"""The novelty-share drift test on the demo generator's texts (600 reference vs 300 current):
a new topic in 5% of traffic is seen and explained, no drift stays quiet, and the test runs
inside the drift report through drift.TEXT_TESTS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from feedback_assets.demo.corpus import TOPICS
from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.drift.drift import (
    TEXT_TESTS,
    DriftConfig,
    detect_drift_frames,
    embedding_texts,
)
from feedback_assets.domain.drift.novelty import NOVELTY_QUANTILE, novelty_test, tfidf

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CFG = DriftConfig(embedding_permutations=500)
DRIFT_TOPICS = {t.name for t in TOPICS if t.drift}


def _events(seed: int, n: int, shift: float = 0.0, days: int = 0) -> pd.DataFrame:
    start = T0 + timedelta(days=days)
    return generate_stream(n, seed=seed, deployment_id="calib", topic_shift=shift, start=start)[0]


def _texts(events: pd.DataFrame, seed: int) -> list[str]:
    return embedding_texts(events, 2000, seed) or []


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _events(1, 600)


def test_a_new_topic_in_five_percent_of_traffic_is_detected_and_explained(reference) -> None:
    current = _events(2, 300, shift=0.05, days=2)
    out = novelty_test(_texts(reference, 0), _texts(current, 1), CFG)
    d = out.details
    assert out.test == "novelty_share" and out.p_value < 0.002
    assert d["novel_count"] > 3 * d["expected_share"] * 300 and 0 < out.score <= 1
    # The examples come from the cluster that grew: prompts of the new (drift) topics.
    assert d["grown_cluster_size"] >= 2 and 1 <= len(d["examples"]) <= 3
    topic_of = {
        p[:200]: json.loads(m)["topic"]
        for p, m in zip(current["prompt"], current["metadata"], strict=True)
    }
    assert all(topic_of[e] in DRIFT_TOPICS for e in d["examples"]), d["examples"]
    assert d["novel_terms"]


def test_no_drift_stays_quiet_over_several_windows(reference) -> None:
    ps = [
        novelty_test(_texts(reference, 0), _texts(_events(s, 300, days=2), 1), CFG).p_value
        for s in range(10, 18)
    ]
    assert min(ps) > 0.002  # no extreme p-value on a no-drift window
    assert np.mean(np.array(ps) < 0.05) <= 0.25


def test_identical_windows_have_no_novel_texts() -> None:
    texts = [f"how do I reset my password on device {i % 7}" for i in range(200)]
    out = novelty_test(texts, texts[:150], CFG)
    assert out.details["novel_count"] == 0 and out.p_value == 1.0 and out.score == 0.0


def test_tfidf_rows_are_normalized_and_empty_text_is_zero() -> None:
    ref, cur = tfidf(["alpha beta", "beta gamma"], ["", "alpha beta"])
    norms = np.sqrt(np.asarray(ref.multiply(ref).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0)
    assert cur[0].nnz == 0
    assert (cur[1] @ ref[0].T).toarray()[0, 0] == pytest.approx(1.0)


def test_registered_text_test_runs_in_the_report_and_its_reason_shows_examples(reference):
    assert ("novelty", novelty_test) in TEXT_TESTS
    current = _events(3, 300, shift=0.2, days=2)
    report = detect_drift_frames(reference, current, config=CFG)
    novelty = {r.feature: r for r in report.results}["novelty"]
    assert novelty.type == "embedding" and novelty.drifted
    assert "p_adjusted" in novelty.details  # corrected with the other tests
    reason = next(r for r in report.reasons if r.startswith("novelty: novelty share p="))
    assert "novel (expected" in reason and "e.g. '" in reason
    assert 0.99 <= NOVELTY_QUANTILE < 1
