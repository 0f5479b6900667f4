"""Alert de-duplication, cooldown and watermarks (pure)."""

from feedback_assets.domain.alerts.alerts import Alert, AlertState, advance, plan_alerts


def _alert(dep: str, reason: str, at: int, source: str = "s") -> Alert:
    return Alert(source, dep, reason, f"{dep} {reason}", "detail", at)


def test_one_alert_per_deployment_and_reason_the_newest() -> None:
    alerts = [_alert("a", "drift", 1), _alert("a", "drift", 5), _alert("b", "drift", 2)]
    plan = plan_alerts(alerts, AlertState(), now_s=100.0, cooldown_s=60)
    assert [(a.deployment_id, a.at_us) for a in plan.due] == [("a", 5), ("b", 2)]


def test_cooldown_holds_a_key_sent_recently() -> None:
    state = AlertState(sent={"a|drift": 90.0})
    plan = plan_alerts([_alert("a", "drift", 1), _alert("a", "quality_drop", 1)], state, 100.0, 60)
    assert [a.reason for a in plan.due] == ["quality_drop"]
    assert [a.reason for a in plan.held] == ["drift"]
    assert plan_alerts([_alert("a", "drift", 1)], state, 151.0, 60).due  # cooldown over


def test_a_failed_send_keeps_its_sources_watermark() -> None:
    ok, failed = _alert("a", "drift", 1, "drift"), _alert("b", "check", 1, "checks")
    state = advance(AlertState(marks={"checks": 3}), [ok], [failed], {"drift": 7, "checks": 9}, 50)
    assert state.marks == {"drift": 7, "checks": 3} and state.sent == {"a|drift": 50}


def test_a_damaged_cursor_starts_over() -> None:
    for cursor in (None, "", "not json", '{"sent": 3}', '["x"]'):
        assert AlertState.from_cursor(cursor) == AlertState()
    state = AlertState({"a|drift": 1.5}, {"drift": 4})
    assert AlertState.from_cursor(state.to_cursor()) == state
