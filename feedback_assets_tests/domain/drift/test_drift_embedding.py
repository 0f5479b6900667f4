import numpy as np
import pytest

from feedback_assets.domain.drift.drift import (
    DriftConfig,
    build_features,
    compare_features,
    detect_drift_frames,
)
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.domain.drift.embedding_drift import mmd_test, top_terms
from feedback_assets_tests.domain.drift.test_drift_factory import make_events

CFG = DriftConfig(embedding_permutations=1000, embedding_max_samples=600)


def test_hashing_embed_deterministic_normalized_and_seeded():
    texts = ["Deploy the Helm chart", "deploy the helm chart!", "refund my invoice", ""]
    a = hashing_embed(texts, dim=128)
    assert a.shape == (4, 128) and a.dtype == np.float32
    np.testing.assert_array_equal(a, hashing_embed(texts, dim=128))
    np.testing.assert_allclose(np.linalg.norm(a[:3], axis=1), 1.0, rtol=1e-5)
    assert not a[3].any()
    assert a[0] @ a[1] == pytest.approx(1.0, abs=1e-5)  # case and punctuation ignored
    assert a[0] @ a[2] < 0.5
    assert not np.allclose(a, hashing_embed(texts, dim=128, seed=1))
    assert hashing_embed([], dim=16).shape == (0, 16)


def test_hashing_embed_uses_word_order_through_bigrams():
    a, b = hashing_embed(["dog bites man", "man bites dog"])
    assert a @ b < 0.999


def test_topic_shift_detected_by_embedding_with_explaining_terms():
    ref, cur = make_events(600, 1), make_events(400, 2, topic_share=0.2)
    report = detect_drift_frames(ref, cur, config=CFG)
    emb = {r.feature: r for r in report.results}["embedding"]
    assert emb.drifted and emb.type == "embedding" and emb.p_value < 0.05
    assert 0 < emb.score <= 1
    top = [t["term"] for t in emb.details["top_terms"]["current"][:8]]
    assert {"kubernetes", "helm", "rollout"} & set(top)
    assert any(r.startswith("embedding: MMD permutation p=") for r in report.reasons)


def test_same_topic_mix_no_embedding_drift():
    ref, cur = make_events(600, 1, topic_share=0.2), make_events(400, 2, topic_share=0.2)
    report = detect_drift_frames(ref, cur, config=CFG)
    emb = {r.feature: r for r in report.results}["embedding"]
    assert not emb.drifted and emb.p_value > 0.05


def test_mmd_p_value_roughly_uniform_under_null():
    rng = np.random.default_rng(0)
    cfg = DriftConfig(embedding_permutations=50, seed=0)
    ps = []
    for i in range(20):
        x = rng.normal(size=(120, 8))
        y = rng.normal(size=(120, 8))
        ps.append(mmd_test(x, y, DriftConfig(embedding_permutations=50, seed=i)).p_value)
    assert np.mean(np.array(ps) < 0.05) <= 0.15 and np.mean(ps) > 0.3
    shifted = mmd_test(rng.normal(size=(120, 8)), rng.normal(0.5, 1, size=(120, 8)), cfg)
    assert shifted.p_value < 0.05 and shifted.details["witness_auc"] > 0.7


def test_embedding_input_errors_are_clear():
    with pytest.raises(ValueError, match="dimension mismatch"):
        mmd_test(np.ones((10, 4)), np.ones((10, 5)), CFG)
    with pytest.raises(ValueError, match="reference_embeddings"):
        mmd_test(np.ones(10), np.ones((10, 5)), CFG)


def test_embedding_below_min_samples_is_insufficient():
    ref, cur = build_features(make_events(300, 1)), build_features(make_events(300, 2))
    report = compare_features(ref, cur, CFG, np.ones((300, 8)), np.ones((20, 8)))
    emb = {r.feature: r for r in report.results}["embedding"]
    assert emb.severity == "insufficient_data" and not emb.drifted


def test_top_terms_ranks_new_words_first():
    terms = top_terms(["alpha beta gamma"] * 50, ["alpha beta gamma"] * 45 + ["zeta eta"] * 5, k=2)
    assert {t["term"] for t in terms["current"]} == {"zeta", "eta"}
    assert terms["current"][0]["reference_per_1k"] == 0.0
    assert top_terms([], [])["current"] == []
