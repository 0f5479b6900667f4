import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from feedback_assets.domain.drift.drift import (
    DriftConfig,
    build_features,
    compare_features,
    plot_drift,
    results_frame,
    results_from_frame,
    select_reference,
)
from feedback_assets.domain.drift.drift_features import MISSING
from feedback_assets_tests.domain.drift.test_drift_factory import (
    make_events,
    make_quality,
    make_signals,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_build_features_columns_and_types():
    ev = make_events(200, 1)
    q = make_quality(ev, 1).set_index("event_id")  # keyed by index works too
    f = build_features(ev, q, make_signals(ev, 1))
    assert f.size == 200
    assert set(f.numeric) == {
        "prompt_length", "response_length", "token_count", "latency_ms", "quality_score"
    }  # fmt: skip
    assert set(f.categorical) == {"model_version_id", "format_kind"}
    assert {"refusal_rate", "length_pass_rate", "thumbs_down_rate", "report_rate"} <= set(f.binary)
    np.testing.assert_array_equal(f.numeric["response_length"], ev["response"].str.len())
    assert f.types["response_length"] == "output" and f.types["prompt_length"] == "statistical"
    assert f.types["thumbs_down_rate"] == "feedback"
    assert f.binary["report_rate"].sum() == 0


def test_quality_rows_missing_for_some_events_become_nan():
    ev = make_events(100, 1)
    q = make_quality(ev, 1).iloc[:60].astype({"refusal_passed": object})
    q.loc[q.index[0], "refusal_passed"] = None
    f = build_features(ev, q)
    assert np.isnan(f.numeric["quality_score"][60:]).all()
    assert np.isnan(f.binary["refusal_rate"][0]) and np.isnan(f.binary["refusal_rate"][70])


def test_metadata_categorical_fields_with_bad_json_and_missing_keys():
    meta = [{"locale": "en"}] * 3 + [{"other": 1}]
    ev = make_events(4, 1, metadata=meta)
    ev.loc[3, "metadata"] = "{not json"
    f = build_features(ev, config=DriftConfig(categorical_metadata_fields=("locale",)))
    assert list(f.categorical["metadata.locale"]) == ["en", "en", "en", MISSING]


def test_metadata_mix_shift_detected():
    cfg = DriftConfig(categorical_metadata_fields=("locale",))
    ref = make_events(400, 1, metadata=[{"locale": "en"}] * 350 + [{"locale": "de"}] * 50)
    cur = make_events(400, 2, metadata=[{"locale": "en"}] * 200 + [{"locale": "fr"}] * 200)
    report = compare_features(build_features(ref, config=cfg), build_features(cur, config=cfg), cfg)
    r = {x.feature: x for x in report.results}["metadata.locale"]
    assert r.drifted and r.type == "statistical"
    assert r.details["top_changes"][0]["category"] == "fr"


def _versioned_events() -> pd.DataFrame:
    v1 = make_events(30, 1, start=T0)
    v2 = make_events(60, 2, start=T0 + timedelta(days=1))
    v2["model_version_id"] = "v2"
    # v2 events spread one per hour over 60 hours, shuffled order.
    v2["timestamp"] = pd.to_datetime([T0 + timedelta(days=1, hours=h) for h in range(60)], utc=True)
    return pd.concat([v2.sample(frac=1, random_state=0), v1], ignore_index=True)


def test_select_reference_first_days_of_current_version():
    ev = _versioned_events()
    ref = select_reference(ev, first_days=1)
    assert set(ref["model_version_id"]) == {"v2"}
    assert len(ref) == 24 and ref["timestamp"].is_monotonic_increasing
    assert ref["timestamp"].min() == pd.Timestamp(T0 + timedelta(days=1))


def test_select_reference_first_n_and_explicit_version():
    ev = _versioned_events()
    assert len(select_reference(ev, first_n=10)) == 10
    v1 = select_reference(ev, model_version_id="v1", first_n=5)
    assert list(v1["event_id"]) == [f"e1-{i}" for i in range(5)]
    assert select_reference(ev.iloc[:0]).empty


def test_reference_reset_changes_the_verdict():
    """After retraining, the new version's first window becomes the reference: no alarm."""
    old = make_events(500, 1)
    new = make_events(500, 2, response_scale=1.5, versions=("v2",), start=T0)
    later = make_events(400, 3, response_scale=1.5, versions=("v2",), start=T0 + timedelta(days=5))
    both = pd.concat([old, new, later], ignore_index=True)
    stale = compare_features(build_features(old), build_features(later))
    fresh = compare_features(build_features(select_reference(both, first_days=2)),
                             build_features(later))  # fmt: skip
    assert stale.drifted and not fresh.drifted


def test_results_frame_round_trip(tmp_path):
    ref, cur = make_events(300, 1), make_events(300, 2, response_scale=1.4)
    cur.loc[:, "latency_ms"] = np.nan  # NaN statistics must survive JSON
    report = compare_features(build_features(ref), build_features(cur), deployment_id="d1")
    frame = results_frame(report)
    assert len(frame) == len(report.results) and (frame["deployment_id"] == "d1").all()
    for text in frame["details"]:
        json.loads(text)
    path = tmp_path / "r.parquet"
    frame.to_parquet(path)
    back = results_from_frame(pd.read_parquet(path))
    for a, b in zip(report.results, back, strict=True):
        assert (a.feature, a.test, a.drifted, a.severity, a.type) == (
            b.feature, b.test, b.drifted, b.severity, b.type
        )  # fmt: skip
        assert a.p_value == b.p_value and a.score == b.score
        assert (np.isnan(a.statistic) and np.isnan(b.statistic)) or a.statistic == b.statistic
        assert b.details["reference_n"] == a.details["reference_n"]


def test_plot_drift_writes_png(tmp_path):
    ref_ev, cur_ev = make_events(300, 1), make_events(300, 2, response_scale=1.4)
    ref, cur = (
        build_features(ref_ev, make_quality(ref_ev, 1)),
        build_features(cur_ev, make_quality(cur_ev, 2)),
    )
    report = compare_features(ref, cur)
    out = plot_drift(ref, cur, report, tmp_path / "sub" / "drift.png", top_k=3)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
