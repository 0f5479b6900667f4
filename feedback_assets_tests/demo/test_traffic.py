import json
import re
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from feedback_assets.demo import corpus
from feedback_assets.demo.traffic import TrafficConfig, generate_stream, generate_traffic
from feedback_assets.domain.records import EVENT_COLUMNS, SIGNAL_COLUMNS, SIGNAL_TYPES

END = date(2026, 11, 29)
CONFIG = TrafficConfig(end_date=END)
DRIFT_TOPICS = {t.name for t in corpus.TOPICS if t.drift}
EVENT_KEYS = set(EVENT_COLUMNS)


@pytest.fixture(scope="module")
def traffic() -> tuple[list[dict], list[dict]]:
    return generate_traffic(CONFIG)


@pytest.fixture(scope="module")
def frame(traffic: tuple[list[dict], list[dict]]) -> pd.DataFrame:
    events, _ = traffic
    df = pd.DataFrame([e for e in events if "prompt" in e and e["latency_ms"] >= 0])
    df["day"] = (df["timestamp"].dt.date - (END - timedelta(days=CONFIG.days - 1))).map(
        lambda d: d.days + 1
    )
    df["length"] = df["response"].str.len()
    df["refusal"] = df["response"].map(lambda r: r.startswith(corpus.REFUSALS))
    df["topic"] = df["metadata"].map(lambda m: m["topic"])
    return df


def _is_refusal(text: str) -> bool:
    return text.startswith(corpus.REFUSALS)


def test_same_seed_same_output_and_different_seed_differs() -> None:
    small = TrafficConfig(end_date=END, days=3, events_per_day=60)
    assert generate_traffic(small) == generate_traffic(small)
    other = generate_traffic(TrafficConfig(end_date=END, days=3, events_per_day=60, seed=8))
    assert [e["prompt"] for e in other[0][:50] if "prompt" in e] != [
        e["prompt"] for e in generate_traffic(small)[0][:50] if "prompt" in e
    ]


def test_event_payload_shape(traffic: tuple[list[dict], list[dict]]) -> None:
    events, signals = traffic
    valid = [e for e in events if "prompt" in e]
    for e in valid[:500]:
        assert set(e) == EVENT_KEYS
        assert uuid.UUID(e["event_id"]).version == 4
        assert e["model_version_id"] in {f"{e['deployment_id']}-v1", f"{e['deployment_id']}-v2"}
        assert re.fullmatch(r"user-\d{4}", e["user_id"])
        assert e["timestamp"].tzinfo is not None and e["timestamp"].utcoffset() == timedelta(0)
        assert e["token_count"] == e["input_tokens"] + e["output_tokens"]
        assert e["metadata"]["source"] in {"web", "api", "mobile"}
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert [s["timestamp"] for s in signals] == sorted(s["timestamp"] for s in signals)
    for s in signals[:500]:
        assert {"event_id", "signal_type", "timestamp", "user_id", "metadata"} <= set(s)


def test_counts_per_day_per_deployment(frame: pd.DataFrame) -> None:
    counts = frame.groupby(["deployment_id", "day"]).size()
    assert set(counts.index.get_level_values(0)) == set(CONFIG.deployments)
    # Regenerations may spill a few seconds past midnight: allow a small margin.
    per_day = counts.unstack(fill_value=0).loc[:, 1 : CONFIG.days]
    assert per_day.shape == (3, CONFIG.days)
    assert per_day.min().min() >= 0.85 * CONFIG.events_per_day - 5
    assert per_day.max().max() <= 1.15 * CONFIG.events_per_day + 5
    assert per_day.to_numpy().std() > 5  # jittered, not constant


def test_every_signal_type_at_realistic_rates(
    traffic: tuple[list[dict], list[dict]], frame: pd.DataFrame
) -> None:
    _, signals = traffic
    counts = Counter(s["signal_type"] for s in signals)
    assert set(SIGNAL_TYPES) <= set(counts)
    n = len(frame)
    assert 0.02 < counts["thumbs_up"] / n < 0.07
    assert 0.01 < counts["thumbs_down"] / n < 0.05
    assert 0.04 < counts["copy"] / n < 0.09
    assert 0.015 < counts["regenerate"] / n < 0.05
    assert 0.005 < counts["edit"] / n < 0.02
    assert counts["share"] > 0 and counts["report"] > 0
    # Code gets copied more than support answers.
    copied = {s["event_id"] for s in signals if s["signal_type"] == "copy"}
    rate = frame.assign(c=frame["event_id"].isin(copied)).groupby("deployment_id")["c"].mean()
    assert rate["code-assistant"] > 2 * rate["support-bot"]


def test_signals_follow_their_event_and_include_double_clicks(
    traffic: tuple[list[dict], list[dict]], frame: pd.DataFrame
) -> None:
    _, signals = traffic
    when = dict(zip(frame["event_id"], frame["timestamp"], strict=True))
    delays = [
        (s["timestamp"] - when[s["event_id"]]).total_seconds()
        for s in signals
        if s["event_id"] in when
    ]
    assert min(delays) > 0
    assert max(delays) > 120  # some arrive minutes later
    ups = Counter((s["event_id"], s["user_id"]) for s in signals if s["signal_type"] == "thumbs_up")
    assert any(c >= 2 for c in ups.values())


def test_regenerate_links_a_new_event(
    traffic: tuple[list[dict], list[dict]], frame: pd.DataFrame
) -> None:
    _, signals = traffic
    by_id = frame.set_index("event_id")
    regen_signals = {s["event_id"] for s in signals if s["signal_type"] == "regenerate"}
    regens = frame[frame["metadata"].map(lambda m: "regenerate_of" in m)]
    assert len(regens) > 100
    for _, new in regens.iterrows():
        original = by_id.loc[new["metadata"]["regenerate_of"]]
        assert new["prompt"] == original["prompt"]
        assert new["session_id"] == original["session_id"]
        assert new["timestamp"] > original["timestamp"]
        assert new["event_id"] != original.name
        assert original.name in regen_signals


def test_edits_carry_an_improved_response(
    traffic: tuple[list[dict], list[dict]], frame: pd.DataFrame
) -> None:
    _, signals = traffic
    response = dict(zip(frame["event_id"], frame["response"], strict=True))
    edits = [s for s in signals if s["signal_type"] == "edit" and "edited_response" in s]
    assert len(edits) > 50
    for s in edits:
        assert s["edited_response"] and s["edited_response"] != response[s["event_id"]]
        assert not _is_refusal(s["edited_response"])
    assert all("edited_response" not in s for s in signals if s["signal_type"] != "edit")


def test_invalid_payloads_present_and_unmarked(traffic: tuple[list[dict], list[dict]]) -> None:
    events, signals = traffic
    missing_prompt = [e for e in events if "prompt" not in e]
    negative = [e for e in events if "prompt" in e and e["latency_ms"] < 0]
    unknown = [s for s in signals if s["signal_type"] not in SIGNAL_TYPES]
    bare_edit = [s for s in signals if s["signal_type"] == "edit" and "edited_response" not in s]
    assert missing_prompt and negative and unknown and bare_edit
    n_invalid = len(missing_prompt) + len(negative) + len(unknown) + len(bare_edit)
    assert 0.001 < n_invalid / (len(events) + len(signals)) < 0.006
    assert all(set(e) <= EVENT_KEYS for e in missing_prompt + negative)


def test_drifted_deployment_changes_only_from_drift_day(
    traffic: tuple[list[dict], list[dict]], frame: pd.DataFrame
) -> None:
    _, signals = traffic
    sb = frame[frame["deployment_id"] == CONFIG.drift_deployment]
    before, after = sb[sb["day"] < CONFIG.drift_day], sb[sb["day"] >= CONFIG.drift_day]
    answered = ~before["refusal"], ~after["refusal"]
    ratio = after.loc[answered[1], "length"].median() / before.loc[answered[0], "length"].median()
    assert ratio > 1.3
    assert before["refusal"].mean() < 0.05 and after["refusal"].mean() > 0.1
    assert not before["topic"].isin(DRIFT_TOPICS).any()
    assert after["topic"].isin(DRIFT_TOPICS).mean() > 0.4
    down = {s["event_id"] for s in signals if s["signal_type"] == "thumbs_down"}
    rate_before = before["event_id"].isin(down).mean()
    assert after["event_id"].isin(down).mean() > 2 * rate_before


def test_healthy_deployments_are_stationary(frame: pd.DataFrame) -> None:
    healthy = frame[frame["deployment_id"] != CONFIG.drift_deployment]
    assert not healthy["topic"].isin(DRIFT_TOPICS).any()
    for _, dep in healthy.groupby("deployment_id"):
        daily = dep.groupby("day")["length"].mean()
        assert (daily / dep["length"].mean() - 1).abs().max() < 0.08
        assert dep.groupby("day")["refusal"].mean().max() < 0.06
        v2 = dep.groupby("day")["model_version_id"].agg(lambda s: s.str.endswith("-v2").mean())
        assert v2.max() - v2.min() < 0.2  # a stable mix, no switch


def test_text_is_varied_and_styled_per_deployment(frame: pd.DataFrame) -> None:
    assert frame["prompt"].nunique() / len(frame) > 0.5
    code = frame[frame["deployment_id"] == "code-assistant"]
    assert code["response"].str.contains("```").mean() > 0.85
    assert code["response"].str.contains("\n- ").mean() > 0.1
    extractor = frame[frame["deployment_id"] == "json-extractor"]["response"]

    def parses(text: str) -> bool:
        try:
            return isinstance(json.loads(text), dict)
        except ValueError:
            return False

    ok = extractor.map(parses)
    assert 0.8 < ok.mean() < 0.995
    support = frame[frame["deployment_id"] == "support-bot"]["response"]
    looping = support.map(lambda r: max(Counter(r.split(". ")).values()) >= 4)
    assert looping.any()
    assert (frame["length"] < 20).mean() > 0.005  # some short answers


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def test_pii_sprinkled_and_lookalikes_fail_luhn(frame: pd.DataFrame) -> None:
    pii = r"@example\.|555-01|555 01|4111|4242|5555 5555|\b\d{3}-\d{2}-\d{4}\b|sk-[A-Za-z0-9]{32}"
    rate = frame["prompt"].str.contains(pii).mean()
    assert 0.02 < rate < 0.06
    assert frame["response"].str.contains(pii).any()
    longs = frame["prompt"].str.extractall(r"\b(\d{13})\b")[0]
    assert len(longs) > 20
    assert not any(_luhn_ok(x) for x in longs)


def test_stream_columns_and_clean_rows() -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    events, signals = generate_stream(3000, seed=3, start=start)
    assert tuple(events.columns) == EVENT_COLUMNS
    assert tuple(signals.columns) == SIGNAL_COLUMNS
    assert len(events) == 3000 and events["event_id"].is_unique
    assert str(events["timestamp"].dt.tz) == "UTC" and events["timestamp"].min() >= start
    assert events["timestamp"].is_monotonic_increasing
    assert events["user_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert all(isinstance(json.loads(m), dict) for m in events["metadata"])
    assert (events["latency_ms"] > 0).all() and events["prompt"].str.len().gt(0).all()
    assert set(signals["signal_type"]) == set(SIGNAL_TYPES)
    assert signals["event_id"].isin(events["event_id"]).all()
    edits = signals["signal_type"] == "edit"
    assert signals.loc[edits, "edited_response"].notna().all()
    assert signals.loc[~edits, "edited_response"].isna().all()


def test_stream_is_seeded() -> None:
    a = generate_stream(500, seed=1)
    b = generate_stream(500, seed=1)
    c = generate_stream(500, seed=2)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not a[0]["prompt"].equals(c[0]["prompt"])


def test_stream_knobs_change_what_they_should() -> None:
    base, _ = generate_stream(6000, seed=5)
    longer, _ = generate_stream(6000, seed=5, response_length_factor=1.3)
    ratio = longer["response"].str.len().mean() / base["response"].str.len().mean()
    assert 1.2 < ratio < 1.4

    def refusals(df: pd.DataFrame) -> float:
        return float(df["response"].map(_is_refusal).mean())

    more_refusals, _ = generate_stream(6000, seed=5, refusal_rate_delta=0.2)
    assert refusals(base) < 0.04
    assert 0.15 < refusals(more_refusals) - refusals(base) < 0.25

    def drift_share(df: pd.DataFrame) -> float:
        topics = df["metadata"].map(lambda m: json.loads(m)["topic"])
        return float(topics.isin(DRIFT_TOPICS).mean())

    shifted, _ = generate_stream(6000, seed=5, topic_shift=0.5)
    assert drift_share(base) == 0.0
    assert 0.45 < drift_share(shifted) < 0.55


def test_stream_for_a_demo_deployment_keeps_its_style() -> None:
    events, _ = generate_stream(400, seed=1, deployment_id="code-assistant")
    assert (events["deployment_id"] == "code-assistant").all()
    assert events["response"].str.contains("```").mean() > 0.85
    assert np.isin(events["model_version_id"], ["code-assistant-v1", "code-assistant-v2"]).all()


def test_stream_edge_sizes() -> None:
    empty, no_signals = generate_stream(0, seed=1)
    assert len(empty) == 0 and tuple(empty.columns) == EVENT_COLUMNS
    assert len(no_signals) == 0
    one, _ = generate_stream(1, seed=1)
    assert len(one) == 1
    with pytest.raises(ValueError, match="n_events"):
        generate_stream(-1, seed=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"days": 0}, "days"),
        ({"events_per_day": -1}, "events_per_day"),
        ({"drift_day": 0}, "drift_day"),
        ({"deployments": ("a", "a")}, "deployments"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"TrafficConfig.{field}"):
        TrafficConfig(**kwargs)


def test_no_drift_when_drift_deployment_absent() -> None:
    events, _ = generate_traffic(
        TrafficConfig(end_date=END, days=2, events_per_day=50, drift_deployment="none", drift_day=1)
    )
    topics = {e["metadata"]["topic"] for e in events}
    assert topics and not topics & DRIFT_TOPICS
