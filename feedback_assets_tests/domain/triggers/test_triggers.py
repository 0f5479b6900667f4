import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from feedback_assets.domain.records import DriftReport, TriggerDecision
from feedback_assets.domain.triggers.decisions import (
    data_count_decision,
    drift_decision,
    quality_decision,
    schedule_decision,
)
from feedback_assets.domain.triggers.plan import (
    TAG_DEPLOYMENT,
    TAG_TRIGGER_VALUES,
    TAG_TRIGGERS,
    coalesce,
    evaluate,
    fired_only,
    gate,
)
from feedback_assets.domain.triggers.state import (
    DriftWindow,
    TriggerConfig,
    TriggerState,
    drift_window_from_report,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CFG = TriggerConfig()


def w(name: str, drifted: bool, score: float = 0.0, severity: str | None = None) -> DriftWindow:
    sev = severity if severity is not None else ("drift" if drifted else "none")
    return DriftWindow(window=name, drifted=drifted, score=score, severity=sev)


def st(**kw: object) -> TriggerState:
    return TriggerState(deployment_id="dep-a", **kw)  # type: ignore[arg-type]


# --- drift hysteresis -------------------------------------------------------------------------


def test_drift_no_windows_not_fired() -> None:
    d = drift_decision(st(), CFG)
    assert not d.fired and d.type == "drift_threshold"
    assert "no drift windows" in d.reason


def test_drift_single_drifted_window_is_not_enough() -> None:
    d = drift_decision(st(drift_windows=[w("t1", False), w("t2", True, 0.5)]), CFG)
    assert not d.fired
    assert d.values["consecutive_drifted"] == 1
    assert "1 consecutive drifted window(s) of 2 required" in d.reason


def test_drift_two_consecutive_fire() -> None:
    d = drift_decision(st(drift_windows=[w("t1", False), w("t2", True, 0.4), w("t3", True, 0.6)]))
    assert d.fired
    assert d.values["windows"] == ["t2", "t3"]
    assert d.values["scores"] == [0.4, 0.6]
    assert "2 consecutive windows" in d.reason and "t3 score 0.600" in d.reason


def test_drift_drifted_clean_drifted_does_not_fire() -> None:
    d = drift_decision(st(drift_windows=[w("t1", True, 0.5), w("t2", False), w("t3", True, 0.5)]))
    assert not d.fired
    assert d.values["consecutive_drifted"] == 1


def test_drift_score_at_threshold_counts_without_verdict() -> None:
    windows = [w("t1", False, 0.2, "possible"), w("t2", False, 0.25, "possible")]
    assert drift_decision(st(drift_windows=windows), CFG).fired
    below = [w("t1", False, 0.19, "possible"), w("t2", False, 0.25, "possible")]
    assert not drift_decision(st(drift_windows=below), CFG).fired


def test_drift_insufficient_data_window_breaks_the_run() -> None:
    windows = [w("t1", True, 0.9), w("t2", False, 0.9, "insufficient_data")]
    assert not drift_decision(st(drift_windows=windows), CFG).fired


def test_drift_nan_score_not_drifted() -> None:
    windows = [w("t1", True, 0.9), w("t2", False, float("nan"), "none")]
    assert not drift_decision(st(drift_windows=windows), CFG).fired


def test_drift_hysteresis_configurable() -> None:
    windows = [w("t1", True, 0.5), w("t2", True, 0.5)]
    assert not drift_decision(
        st(drift_windows=windows), TriggerConfig(drift_consecutive_windows=3)
    ).fired
    assert drift_decision(
        st(drift_windows=windows[:1]), TriggerConfig(drift_consecutive_windows=1)
    ).fired


def test_drift_window_from_report() -> None:
    report = DriftReport("dep-a", True, "drift", 0.7, ["x"], [], 100, 100)
    assert drift_window_from_report("2026-11-29", report) == DriftWindow(
        "2026-11-29", True, 0.7, "drift"
    )


# --- quality ----------------------------------------------------------------------------------


def test_quality_below_min_samples_not_fired_even_if_bad() -> None:
    d = quality_decision(st(quality_scores=[0.1] * 99), CFG)
    assert not d.fired
    assert d.reason == "insufficient samples: 99 quality scores < minimum 100"


def test_quality_drop_fires_with_reason_values() -> None:
    scores = np.full(1000, 0.62)
    d = quality_decision(st(quality_scores=scores), CFG)
    assert d.fired
    assert d.reason == "quality mean 0.62 < 0.7 over 1,000 events"
    assert d.values["n"] == 1000 and d.values["mean"] == pytest.approx(0.62)


def test_quality_at_threshold_not_fired() -> None:
    d = quality_decision(st(quality_scores=[0.7] * 100), CFG)
    assert not d.fired and ">= 0.7" in d.reason


def test_quality_nan_scores_are_absent_not_zero() -> None:
    scores = [0.9] * 100 + [float("nan")] * 500
    d = quality_decision(st(quality_scores=scores), CFG)
    assert not d.fired
    assert d.values["n"] == 100 and d.values["ignored_non_finite"] == 500
    only_nan = quality_decision(st(quality_scores=[float("nan")] * 200), CFG)
    assert not only_nan.fired and "insufficient samples: 0" in only_nan.reason


# --- data count -------------------------------------------------------------------------------


def test_data_count_fires_at_threshold() -> None:
    d = data_count_decision(st(new_curated_since_last_retrain=1000), CFG)
    assert d.fired and d.reason == "1,000 new curated examples with no retraining yet >= 1,000"
    assert not data_count_decision(st(new_curated_since_last_retrain=999), CFG).fired


def test_data_count_resets_after_retraining() -> None:
    before = st(new_curated_since_last_retrain=5000)
    assert data_count_decision(before, CFG).fired
    # After a retraining the store reports only what arrived since: no fire-forever.
    after = st(
        new_curated_since_last_retrain=12,
        last_retrain_finished_at=NOW,
        last_retrain_status="succeeded",
    )
    d = data_count_decision(after, CFG)
    assert not d.fired
    assert "since the last retraining at 2026-11-30T12:00:00+00:00" in d.reason


def test_negative_count_rejected_naming_field() -> None:
    with pytest.raises(ValueError, match="new_curated_since_last_retrain"):
        st(new_curated_since_last_retrain=-1)


# --- schedule ---------------------------------------------------------------------------------


def test_schedule_fires_first_time() -> None:
    d = schedule_decision(st(), NOW, CFG)
    assert d.fired and "first scheduled retraining" in d.reason


def test_schedule_interval() -> None:
    recent = st(last_retrain_finished_at=NOW - timedelta(hours=23))
    d = schedule_decision(recent, NOW, CFG)
    assert not d.fired and "23h00m since the last retraining" in d.reason
    due = st(last_retrain_finished_at=NOW - timedelta(seconds=86_400))
    assert schedule_decision(due, NOW, CFG).fired


def test_naive_datetimes_rejected() -> None:
    with pytest.raises(ValueError, match="now: .* timezone-aware"):
        schedule_decision(st(), NOW.replace(tzinfo=None), CFG)
    with pytest.raises(ValueError, match="last_attempt_at"):
        st(last_attempt_at=datetime(2026, 1, 1))


# --- evaluate ---------------------------------------------------------------------------------


def test_evaluate_all_types_in_canonical_order() -> None:
    ds = evaluate(st(), NOW, CFG)
    assert [d.type for d in ds] == ["drift_threshold", "quality_drop", "data_count", "scheduled"]
    assert [d.type for d in fired_only(ds)] == ["scheduled"]
    # Values are recorded as trigger history: they must serialize as JSON.
    json.dumps([d.values for d in evaluate(st(last_retrain_finished_at=NOW), NOW, CFG)])


def test_evaluate_requested_and_enabled_types() -> None:
    assert [d.type for d in evaluate(st(), NOW, CFG, types=["scheduled", "data_count"])] == [
        "data_count",
        "scheduled",
    ]
    cfg = TriggerConfig(enabled_types=("drift_threshold",))
    assert evaluate(st(), NOW, cfg, types=["scheduled"]) == []
    with pytest.raises(ValueError, match="unknown trigger type"):
        evaluate(st(), NOW, CFG, types=["volume"])


def test_config_validation_and_overrides() -> None:
    with pytest.raises(ValueError, match="drift_consecutive_windows"):
        TriggerConfig(drift_consecutive_windows=0)
    with pytest.raises(ValueError, match="enabled_types"):
        TriggerConfig(enabled_types=("accuracy",))
    with pytest.raises(ValueError, match="unknown trigger option"):
        TriggerConfig.from_overrides(window_hours=3)
    assert TriggerConfig.from_overrides(quality_threshold=0.5).quality_threshold == 0.5


# --- gate -------------------------------------------------------------------------------------


def test_gate_open_without_history() -> None:
    assert gate(st(), NOW, CFG) is None


def test_gate_in_flight() -> None:
    reason = gate(st(in_flight=True), NOW, CFG)
    assert reason is not None and "in flight" in reason and "dep-a" in reason
    assert gate(st(last_retrain_status="running"), NOW, CFG) is not None


def test_gate_failed_attempt_waits_for_cooldown() -> None:
    failed = st(last_attempt_at=NOW - timedelta(hours=1), last_retrain_status="failed")
    reason = gate(failed, NOW, CFG)
    assert reason is not None
    assert "cooldown" in reason and "(failed)" in reason and "5h00m left of 6h00m" in reason
    later = st(last_attempt_at=NOW - timedelta(hours=6), last_retrain_status="failed")
    assert gate(later, NOW, CFG) is None


def test_gate_cooldown_uses_latest_mark_and_zero_disables() -> None:
    state = st(
        last_retrain_finished_at=NOW - timedelta(days=3),
        last_attempt_at=NOW - timedelta(minutes=30),
        last_retrain_status="failed",
    )
    assert gate(state, NOW, CFG) is not None
    assert gate(state, NOW, TriggerConfig(cooldown_seconds=0)) is None


# --- coalesce ---------------------------------------------------------------------------------


def _dec(t: str, fired: bool, **values: object) -> TriggerDecision:
    return TriggerDecision(t, fired, f"{t} reason", dict(values))  # type: ignore[arg-type]


def test_coalesce_none_when_nothing_fired() -> None:
    assert coalesce("dep-a", [_dec("scheduled", False)], "w1") is None
    assert coalesce("dep-a", [], "w1") is None


def test_coalesce_sorted_keys_reasons_and_tags() -> None:
    decisions = [
        _dec("scheduled", True, elapsed_s=None),
        _dec("quality_drop", False, mean=0.9),
        _dec("drift_threshold", True, scores=[0.41234567, 0.5], consecutive_drifted=2),
    ]
    plan = coalesce("dep-a", decisions, "2026-11-30T12:00")
    assert plan is not None
    assert plan.run_key == "dep-a:drift_threshold+scheduled:2026-11-30T12:00"
    assert plan.trigger_types == ["drift_threshold", "scheduled"]
    assert plan.reasons == ["drift_threshold reason", "scheduled reason"]
    assert plan.tags[TAG_DEPLOYMENT] == "dep-a"
    assert plan.tags[TAG_TRIGGERS] == "drift_threshold+scheduled"
    values = json.loads(plan.tags[TAG_TRIGGER_VALUES])
    assert values == {
        "drift_threshold": {"scores": [0.4123, 0.5], "consecutive_drifted": 2},
        "scheduled": {"elapsed_s": None},
    }


def test_coalesce_same_state_same_key_input_order_irrelevant() -> None:
    a = [_dec("data_count", True), _dec("drift_threshold", True)]
    p1 = coalesce("dep-a", a, "w")
    p2 = coalesce("dep-a", list(reversed(a)), "w")
    assert p1 is not None and p2 is not None and p1.run_key == p2.run_key


def test_coalesce_values_tag_stays_short() -> None:
    big = _dec("drift_threshold", True, windows=[f"window-{i}" for i in range(500)], run=3)
    plan = coalesce("dep-a", [big], "w")
    assert plan is not None
    text = plan.tags[TAG_TRIGGER_VALUES]
    assert len(text) <= 1000
    assert json.loads(text) == {"drift_threshold": {"run": 3}}


def test_coalesce_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        coalesce("dep-a", [_dec("scheduled", True), _dec("scheduled", True)], "w")


def test_end_to_end_drifted_state_plans_one_launch() -> None:
    state = st(
        drift_windows=[w("d9", False, 0.05), w("d10", True, 0.6), w("d11", True, 0.7)],
        quality_scores=np.full(500, 0.55),
        new_curated_since_last_retrain=10,
        last_retrain_finished_at=NOW - timedelta(hours=8),
        last_retrain_status="succeeded",
    )
    assert gate(state, NOW, CFG) is None
    plan = coalesce("dep-a", evaluate(state, NOW, CFG), "d11")
    assert plan is not None
    assert plan.run_key == "dep-a:drift_threshold+quality_drop:d11"
    assert plan.reasons[1] == "quality mean 0.55 < 0.7 over 500 events"
