"""The trigger registry and a tick's pure plan: names, aliases, thresholds, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedback_assets.domain.records import TriggerDecision
from feedback_assets.domain.triggers import registry
from feedback_assets.domain.triggers.decisions import quality_decision
from feedback_assets.domain.triggers.plan import evaluate, plan_tick
from feedback_assets.domain.triggers.registry import (
    TRIGGERS,
    TriggerSpec,
    aliases,
    canonical_types,
    sensor_triggers,
    threshold,
    with_threshold,
)
from feedback_assets.domain.triggers.state import (
    DriftWindow,
    LiveQuality,
    TriggerConfig,
    TriggerState,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CFG = TriggerConfig()


def st(**kw: object) -> TriggerState:
    return TriggerState(deployment_id="dep-a", **kw)  # type: ignore[arg-type]


def test_the_seed_types_with_their_definitions_and_the_originals_names() -> None:
    assert list(TRIGGERS) == ["drift_threshold", "quality_drop", "data_count", "scheduled"]
    assert [s.definition for s in sensor_triggers()] == [
        "drift_retraining_sensor",
        "quality_drop_retraining_sensor",
        "data_count_retraining_sensor",
    ]
    assert TRIGGERS["scheduled"].kind == "schedule"
    assert TRIGGERS["scheduled"].definition == "scheduled_retraining"
    assert aliases() == {
        "drift": "drift_threshold",
        "accuracy": "quality_drop",
        "feedback": "quality_drop",
        "volume": "data_count",
        "schedule": "scheduled",
    }


def test_canonical_types_resolve_aliases_once_and_reject_unknown_names() -> None:
    names = ["drift", "accuracy", "feedback", "volume", "data_count"]
    assert canonical_types(names) == ["drift_threshold", "quality_drop", "data_count"]
    with pytest.raises(ValueError, match=r"trigger_types: unknown \['vibes'\]; use \["):
        canonical_types(["drift", "vibes"])
    with pytest.raises(ValueError, match="trigger_types: expected a list"):
        canonical_types("drift")


def test_with_threshold_sets_each_type_in_its_own_unit() -> None:
    config = with_threshold(CFG, ["volume", "schedule"], 5.0)
    assert config.data_count_threshold == 5 and isinstance(config.data_count_threshold, int)
    assert config.schedule_interval_seconds == 5
    assert config.drift_threshold == CFG.drift_threshold  # untouched
    drift = with_threshold(CFG, ["drift"], 0.35)
    assert drift.drift_threshold == 0.35 and threshold(drift, "drift_threshold") == 0.35
    with pytest.raises(ValueError, match="drift_threshold: 3.0 is outside"):
        with_threshold(CFG, ["drift"], 3.0)


def _burst_decision(
    state: TriggerState, config: TriggerConfig = CFG, now: datetime | None = None
) -> TriggerDecision:
    limit = threshold(config, "burst")
    n = len(state.drift_windows)
    return TriggerDecision("burst", n >= limit, f"{n} windows vs {limit}", {"n": n})


BURST = TriggerSpec(
    "burst",
    _burst_decision,
    "sensor",
    "burst_retraining_sensor",
    "Retrain after many drift windows.",
    aliases=("windows",),
    default_threshold=3,
)


def test_a_new_type_is_one_registry_entry_and_its_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(registry.TRIGGERS, "burst", BURST)
    windows = [DriftWindow(f"w{i}", False, 0.0, "none") for i in range(3)]
    state = st(drift_windows=windows)
    assert [d.type for d in evaluate(state, NOW, CFG)][-1] == "burst"
    assert canonical_types(["windows"]) == ["burst"]
    assert "burst_retraining_sensor" in [s.definition for s in sensor_triggers()]
    fired = plan_tick(state, NOW, CFG, "burst")
    assert fired.action == "launched" and fired.plan is not None
    assert fired.plan.run_key == "dep-a:burst:initial:2026-11-30"
    # Its threshold lives in TriggerConfig.extra (trigger_settings.extra_thresholds).
    stricter = with_threshold(CFG, ["windows"], 4)
    assert stricter.extra == {"burst": 4.0}
    assert plan_tick(state, NOW, stricter, "burst").action == "none"
    with pytest.raises(ValueError, match=r"extra: unknown trigger type\(s\) \['nope'\]"):
        TriggerConfig(extra={"nope": 1.0})


def test_live_quality_joins_the_stored_scores() -> None:
    live = LiveQuality("live:dep-a:7", 0.5, 150)
    d = quality_decision(st(quality_scores=[0.9] * 50, live_quality=live), CFG)
    assert d.fired and d.values["n"] == 200 and d.values["mean"] == pytest.approx(0.6)
    assert d.values["live_n"] == 150 and d.values["live_window"] == "live:dep-a:7"
    only_live = quality_decision(st(live_quality=live), CFG)
    assert only_live.fired and only_live.reason == "quality mean 0.50 < 0.7 over 150 events"
    with pytest.raises(ValueError, match="mean: must be a finite number"):
        LiveQuality("w", None, 3)
    with pytest.raises(ValueError, match="n: -1 must be >= 0"):
        LiveQuality("w", None, -1)


DRIFTED = [
    DriftWindow("2026-11-29", True, 0.6, "drift"),
    DriftWindow("live:a:9", True, 0.7, "drift"),
]


def test_plan_tick_outcomes() -> None:
    calm = plan_tick(st(), NOW, CFG, "drift_threshold")
    assert (
        calm.action == "none"
        and calm.plan is None
        and [d.type for d in calm.recorded] == ["drift_threshold"]
    )
    assert calm.message.startswith("dep-a: no drift windows")
    # The drift sensor folds data_count (also firing) into its run, keyed on the drift window.
    state = st(drift_windows=DRIFTED, new_curated_since_last_retrain=5000, last_retrain_run_id="r1")
    launched = plan_tick(state, NOW, CFG, "drift_threshold")
    assert launched.action == "launched" and launched.message == ""
    assert launched.plan is not None
    assert launched.plan.run_key == "dep-a:data_count+drift_threshold:r1:live:a:9"
    assert [d.type for d in launched.recorded] == ["drift_threshold", "data_count"]
    # The count sensor keys the same state on the day.
    count = plan_tick(state, NOW, CFG, "data_count")
    assert count.plan is not None and count.plan.run_key.endswith(":r1:2026-11-30")
    # A schedule-kind type launches for itself alone.
    scheduled = plan_tick(state, NOW, CFG, "scheduled")
    assert scheduled.plan is not None and scheduled.plan.trigger_types == ["scheduled"]


def test_plan_tick_holds_suggests_and_skips_disabled_types() -> None:
    busy = st(drift_windows=DRIFTED, in_flight=True)
    held = plan_tick(busy, NOW, CFG, "drift_threshold")
    assert held.action == "held" and "already in flight" in held.message
    assert [d.fired for d in held.recorded] == [True]
    recent = st(drift_windows=DRIFTED, last_attempt_at=NOW - timedelta(hours=1))
    assert "cooldown" in plan_tick(recent, NOW, CFG, "drift_threshold").message
    suggested = plan_tick(st(drift_windows=DRIFTED), NOW, CFG, "drift_threshold", "suggest")
    assert suggested.action == "suggested" and suggested.plan is not None
    assert "would retrain" in suggested.message
    off = TriggerConfig(enabled_types=("scheduled",))
    disabled = plan_tick(st(drift_windows=DRIFTED), NOW, off, "drift_threshold")
    assert disabled.action == "disabled" and disabled.recorded == []
