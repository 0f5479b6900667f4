import math

import numpy as np
import pytest
from scipy import stats

from feedback_assets.domain.drift.drift import (
    DriftConfig,
    build_features,
    compare_features,
    detect_drift_frames,
)
from feedback_assets.domain.drift.drift_tests import (
    adjust_p_values,
    categorical_test,
    numeric_test,
    proportion_test,
)
from feedback_assets_tests.domain.drift.test_drift_factory import (
    make_events,
    make_quality,
    make_signals,
)

NO_EMBED = DriftConfig(embedding_permutations=50)


def _by_feature(report):
    return {r.feature: r for r in report.results}


def test_identical_distributions_no_drift():
    ref, cur = make_events(800, 1), make_events(600, 2)
    report = detect_drift_frames(
        ref, cur,
        reference_quality=make_quality(ref, 1), current_quality=make_quality(cur, 2),
        reference_signals=make_signals(ref, 1), current_signals=make_signals(cur, 2),
        config=NO_EMBED, deployment_id="dep",
    )  # fmt: skip
    assert not report.drifted
    assert report.severity in ("none", "possible")
    assert report.deployment_id == "dep" and report.reference_size == 800
    assert {"response_length", "refusal_rate", "thumbs_down_rate", "embedding"} <= set(
        _by_feature(report)
    )
    assert 0.0 <= report.score < 0.2


def test_false_positive_rate_over_50_seeded_windows_is_low():
    ref = build_features(make_events(1000, 0))
    fired = 0
    for seed in range(1, 51):
        cur = build_features(make_events(300, seed))
        fired += compare_features(ref, cur).drifted
    assert fired <= 5  # nominal 5% of 50 = 2.5; Holm keeps the family-wise rate <= alpha


def test_response_length_shift_detected_by_ks_on_response_length():
    report = compare_features(
        build_features(make_events(800, 1)), build_features(make_events(500, 2, response_scale=1.3))
    )
    res = _by_feature(report)
    assert report.drifted and report.severity == "drift"
    assert res["response_length"].drifted and res["response_length"].test == "ks"
    assert res["response_length"].details["p_adjusted"] < 0.05
    assert not res["prompt_length"].drifted and not res["latency_ms"].drifted
    assert any(reason.startswith("response_length: KS p=") for reason in report.reasons)


def test_category_mix_shift_chi_square_small_and_js_large():
    mix = {"versions": ("v1", "v2"), "version_p": (0.8, 0.2)}
    shifted = {"versions": ("v1", "v2"), "version_p": (0.5, 0.5)}
    small = compare_features(
        build_features(make_events(500, 1, **mix)), build_features(make_events(400, 2, **shifted))
    )
    r = _by_feature(small)["model_version_id"]
    assert r.drifted and r.test == "chi_square" and r.p_value < 1e-6
    assert r.score == pytest.approx(0.3, abs=0.08)  # total variation distance
    large = compare_features(
        build_features(make_events(3000, 1, **mix)),
        build_features(make_events(3000, 2, **shifted)),
    )
    r = _by_feature(large)["model_version_id"]
    assert r.drifted and r.test == "jensenshannon" and r.statistic > 0.1 and r.p_value is None


def test_refusal_rate_shift_detected_by_proportion_test():
    ref, cur = make_events(1000, 1), make_events(500, 2)
    report = compare_features(
        build_features(ref, make_quality(ref, 1, refusal_rate=0.05)),
        build_features(cur, make_quality(cur, 2, refusal_rate=0.15)),
    )
    r = _by_feature(report)["refusal_rate"]
    assert r.drifted and r.test == "z_test" and r.type == "output"
    assert r.details["current_rate"] - r.details["reference_rate"] > 0.05


def test_thumbs_down_rate_is_feedback_drift():
    ref, cur = make_events(1000, 1), make_events(800, 2)
    report = compare_features(
        build_features(ref, signals=make_signals(ref, 1, 0.03)),
        build_features(cur, signals=make_signals(cur, 2, 0.12)),
    )
    r = _by_feature(report)["thumbs_down_rate"]
    assert r.type == "feedback" and r.drifted
    assert not _by_feature(report)["report_rate"].drifted  # no report signals at all: constant


def test_below_min_samples_is_insufficient_never_drift():
    ref = build_features(make_events(50, 1))
    cur = build_features(make_events(50, 2, response_scale=3.0))
    report = compare_features(ref, cur)
    assert not report.drifted and report.severity == "insufficient_data"
    assert all(r.severity == "insufficient_data" and not r.drifted for r in report.results)
    assert "insufficient data" in report.reasons[0]


def test_empty_current_window_gives_clear_result():
    report = detect_drift_frames(make_events(300, 1), make_events(0, 2), config=NO_EMBED)
    assert report.severity == "insufficient_data" and not report.drifted
    assert report.current_size == 0


def test_constant_columns():
    ref_ev, cur_ev = make_events(300, 1), make_events(300, 2)
    ref_ev["latency_ms"] = 120.0
    cur_ev["latency_ms"] = 120.0
    r = _by_feature(compare_features(build_features(ref_ev), build_features(cur_ev)))["latency_ms"]
    assert not r.drifted and r.statistic == 0.0 and r.details["constant"]
    cur_ev["latency_ms"] = 480.0
    r = _by_feature(compare_features(build_features(ref_ev), build_features(cur_ev)))["latency_ms"]
    assert r.drifted and r.score == 1.0


def test_nans_are_dropped_and_counted_all_nan_is_insufficient():
    ref_ev, cur_ev = make_events(400, 1), make_events(400, 2)
    ref_ev.loc[ref_ev.index[::3], "latency_ms"] = np.nan
    cur_ev["token_count"] = np.nan
    res = _by_feature(compare_features(build_features(ref_ev), build_features(cur_ev)))
    assert res["latency_ms"].severity in ("none", "possible")
    assert res["latency_ms"].details["reference_missing"] == 134
    assert res["token_count"].severity == "insufficient_data"


def test_feature_missing_on_one_side_is_reported_not_tested():
    ref, cur = make_events(300, 1), make_events(300, 2)
    report = compare_features(build_features(ref), build_features(cur, make_quality(cur, 2)))
    r = _by_feature(report)["quality_score"]
    assert r.severity == "insufficient_data" and "absent from the reference" in r.details["reason"]


def test_ks_and_wasserstein_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 700), rng.normal(0.2, 1.1, 500)
    small = numeric_test(a, b, DriftConfig())
    ref = stats.ks_2samp(a, b)
    assert small.statistic == pytest.approx(ref.statistic) and small.p_value == pytest.approx(
        ref.pvalue
    )
    ai, bi = rng.integers(0, 50, 5000).astype(float), rng.integers(3, 60, 4000).astype(float)
    large = numeric_test(ai, bi, DriftConfig())
    expected = stats.wasserstein_distance(ai, bi) / ai.std()
    assert large.test == "wasserstein_normed" and large.statistic == pytest.approx(expected)
    assert large.score == pytest.approx(stats.ks_2samp(ai, bi).statistic)


def test_psi_decile_bins_small_for_same_large_for_shift():
    rng = np.random.default_rng(1)
    a = rng.lognormal(3, 0.5, 5000)
    same = numeric_test(a, rng.lognormal(3, 0.5, 5000), DriftConfig()).details
    shifted = numeric_test(a, rng.lognormal(3.4, 0.5, 5000), DriftConfig()).details
    assert same["psi"] < 0.02 and shifted["psi"] > 0.25
    assert len(same["psi_edges"]) == 9
    beyond = numeric_test(a, a.max() + 1 + rng.random(5000), DriftConfig()).details
    assert math.isfinite(beyond["psi"]) and beyond["psi"] > 5  # open outer bin, smoothed


def test_categorical_and_proportion_tests_against_scipy():
    ref = np.array(["a"] * 300 + ["b"] * 200, dtype=object)
    cur = np.array(["a"] * 200 + ["b"] * 250 + ["c"] * 50, dtype=object)
    out = categorical_test(ref, cur, DriftConfig())
    table = np.array([[300, 200, 0], [200, 250, 50]])
    assert out.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)
    z = proportion_test(np.r_[np.ones(50), np.zeros(450)], np.r_[np.ones(90), np.zeros(410)],
                        DriftConfig())  # fmt: skip
    p_pool = 140 / 1000
    expected = (0.18 - 0.10) / math.sqrt(p_pool * (1 - p_pool) * (2 / 500))
    assert z.statistic == pytest.approx(expected) and z.score == pytest.approx(0.08)


def test_bh_and_bonferroni_adjustment():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), [0.04, 0.16, 0.12, 1.0])
    np.testing.assert_allclose(adjust_p_values(p, "none"), p)


def test_correction_changes_verdict_of_a_marginal_feature():
    ref_ev, cur_ev = make_events(400, 1), make_events(400, 2, response_scale=1.06)
    cfg_none = DriftConfig(correction="none")
    cfg_bonf = DriftConfig(correction="bonferroni")
    raw = _by_feature(compare_features(build_features(ref_ev), build_features(cur_ev), cfg_none))
    bonf = _by_feature(compare_features(build_features(ref_ev), build_features(cur_ev), cfg_bonf))
    p = raw["response_length"].p_value
    assert bonf["response_length"].details["p_adjusted"] == pytest.approx(min(1.0, 5 * p))


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="correction"):
        DriftConfig(correction="sidak")
    with pytest.raises(ValueError, match="text_share"):
        DriftConfig(text_share=1.0)


def test_holm_adjustment_plain_and_weighted():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # Holm: sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1, then running max.
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.04, 0.09, 0.09, 0.5])
    w = np.array([0.5, 0.5 / 3, 0.5 / 3, 0.5 / 3])  # the first test holds half of alpha
    # order by p/w: 0.01/0.5=0.02, 0.03/(1/6)=0.18, 0.04/(1/6)=0.24, 0.5/(1/6)=3
    # step 1: 0.01 * 1 / 0.5 = 0.02; step 2: 0.03 * 0.5 / (1/6) = 0.09;
    # step 3: 0.04 * (1/3) / (1/6) = 0.08 -> max 0.09; step 4: 0.5 * 1 = 0.5 -> 0.5
    expected = [0.02, 0.09, 0.09, 0.5]
    np.testing.assert_allclose(adjust_p_values(p, "holm", w), expected)
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni", w), [0.02, 0.24, 0.18, 1.0])
    with pytest.raises(ValueError, match="weights"):
        adjust_p_values(p, "holm", np.array([1.0, 0.0, 1.0, 1.0]))


def test_weighted_holm_controls_family_wise_error_under_the_null():
    rng = np.random.default_rng(0)
    w = np.r_[np.full(2, 0.25), np.full(16, 0.5 / 16)]
    independent = rng.random((4000, 18))
    shared = np.repeat(rng.random((4000, 1)), 18, axis=1)  # fully dependent tests
    for sims in (independent, shared):
        rate = np.mean([(adjust_p_values(p, "holm", w) < 0.05).any() for p in sims])
        assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 4000)


def test_report_keeps_raw_p_values_and_the_alpha_shares():
    ref, cur = make_events(400, 1), make_events(300, 2)
    emb_ref, emb_cur = np.random.default_rng(1).normal(size=(400, 8)), None
    emb_cur = np.random.default_rng(2).normal(size=(300, 8))
    texts_ref = [f"question {i % 50} about billing" for i in range(400)]
    texts_cur = [f"question {i % 50} about billing" for i in range(300)]
    report = compare_features(
        build_features(ref), build_features(cur), DriftConfig(embedding_permutations=200),
        emb_ref, emb_cur, texts_ref, texts_cur,
    )  # fmt: skip
    tested = [r for r in report.results if r.p_value is not None]
    text = [r for r in tested if r.type == "embedding"]
    assert {r.feature for r in text} == {"embedding", "novelty"}
    assert all(r.details["correction"] == "holm" for r in tested)
    assert sum(r.details["alpha_share"] for r in text) == pytest.approx(0.5, abs=1e-5)
    assert sum(r.details["alpha_share"] for r in tested) == pytest.approx(1.0, abs=1e-4)
    assert all(r.details["p_adjusted"] >= r.p_value for r in tested)


def test_chi_square_pools_sparse_categories():
    ref = np.array(["a"] * 300 + ["b"] * 196 + ["x", "y", "z", "w"], dtype=object)
    cur = np.array(["a"] * 290 + ["b"] * 205 + ["q"] * 5, dtype=object)
    out = categorical_test(ref, cur, DriftConfig())
    pooled = np.array([[300, 196, 4], [290, 205, 5]])
    assert out.p_value == pytest.approx(stats.chi2_contingency(pooled, correction=False).pvalue)
    assert out.details["dof"] == 2 and out.details["categories"] == 7
    assert out.p_value > 0.05  # the common categories did not shift


def test_embedding_texts_caps_heavy_users():
    from feedback_assets.domain.drift.drift import embedding_texts

    ev = make_events(300, 1)
    ev["user_id"] = ["heavy"] * 100 + [f"u{i}" for i in range(200)]
    texts = embedding_texts(ev, max_samples=1000, seed=0, per_user_cap=10)
    assert len(texts) == 210
    ev["user_id"] = "anonymous"  # uninformative ids: no cap rather than a 10-text window
    assert len(embedding_texts(ev, max_samples=1000, seed=0, per_user_cap=10)) == 300
    assert texts[0] == ev["prompt"].iloc[0] + "\n" + ev["response"].iloc[0]
    assert len(embedding_texts(ev, max_samples=50, seed=0)) == 50
    assert embedding_texts(ev.iloc[:0], 10, 0) is None
