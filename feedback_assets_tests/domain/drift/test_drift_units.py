"""Per-feature drift tests on independent units: regenerations (the same prompt asked again in a
session) count once, so a window full of them does not read as drift."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.drift.drift import (
    DriftConfig,
    build_features,
    compare_features,
    detect_drift_frames,
    independent_units,
)
from feedback_assets.domain.quality.quality import score_batch
from feedback_assets_tests.domain.drift.test_drift_factory import make_events, make_quality

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def quality_frame(events: pd.DataFrame) -> pd.DataFrame:
    scored = score_batch(events["response"].reset_index(drop=True))
    return scored.assign(event_id=events["event_id"].to_numpy())


def test_independent_units_keeps_the_earliest_event_of_each_prompt_in_a_session():
    events = pd.DataFrame(
        {
            "event_id": ["a", "b", "c", "d", "e", "f"],
            "session_id": ["s1", "s1", "s2", "s1", None, None],
            "prompt": ["hi", "hi", "hi", "bye", "hi", "hi"],
            # b is earlier than a: b is the original, a its regeneration.
            "timestamp": pd.to_datetime([5, 1, 2, 3, 4, 6], unit="s", utc=True),
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    units = independent_units(events)
    # Same prompt in another session, and events without a session, are separate units.
    assert units["event_id"].tolist() == ["b", "c", "d", "e", "f"]
    assert units.index.tolist() == [11, 12, 13, 14, 15]


def test_independent_units_without_session_or_prompt_columns_is_the_window_itself():
    events = pd.DataFrame({"event_id": ["a", "b"], "prompt": ["x", "x"]})
    assert independent_units(events) is events
    assert len(independent_units(events.assign(session_id=[None, None]))) == 2


def test_independent_units_orders_unreadable_timestamps_last():
    events = pd.DataFrame(
        {
            "event_id": ["a", "b", "c"],
            "session_id": ["s", "s", "s"],
            "prompt": ["hi", "hi", "hi"],
            "timestamp": ["not a time", "2026-01-01T00:00:05Z", "2026-01-01T00:00:01Z"],
        }
    )
    assert independent_units(events)["event_id"].tolist() == ["c"]


def _regenerated(n_requests: int, repeats: int, seed: int) -> pd.DataFrame:
    """`n_requests` requests, each asked `repeats` times in its session (same prompt, model,
    tokens in; a new answer each time)."""
    base = make_events(n_requests, seed).assign(session_id=lambda f: "s-" + f["event_id"])
    rows = base.loc[base.index.repeat(repeats)].reset_index(drop=True)
    answers = make_events(len(rows), seed + 5_000)
    rows["response"] = answers["response"].to_numpy()
    rows["event_id"] = [f"r{seed}-{i}" for i in range(len(rows))]
    rows["timestamp"] = rows["timestamp"] + pd.to_timedelta(np.arange(len(rows)) % repeats, "s")
    return rows


def test_heavy_regenerations_without_a_shift_do_not_drift():
    config = DriftConfig(embedding_permutations=200)
    ref_events = make_events(800, 0).assign(session_id=lambda f: "s-" + f["event_id"])
    ref = build_features(ref_events, make_quality(ref_events, 0), config=config)
    unit_alarms = row_alarms = 0
    for seed in range(1, 31):
        cur = _regenerated(75, 4, seed)  # 300 events, 75 requests
        quality = make_quality(cur, seed)
        report = detect_drift_frames(
            ref_events, cur, reference_quality=make_quality(ref_events, 0),
            current_quality=quality, config=config,
        )  # fmt: skip
        assert report.current_size == 300  # the history still counts events
        unit_alarms += report.drifted
        # The same windows tested row by row: each request's prompt counts four times.
        row_alarms += compare_features(ref, build_features(cur, quality, config=config)).drifted
    assert unit_alarms <= 3  # nominal 5% of 30 = 1.5
    assert row_alarms >= 10  # what the collapse removes: rows are not independent


def test_a_five_percent_topic_shift_in_demo_traffic_is_still_detected():
    ref_ev, ref_sg = generate_stream(600, seed=3, deployment_id="calib", start=T0)
    cur_ev, cur_sg = generate_stream(
        300, seed=10_003, deployment_id="calib", topic_shift=0.05, start=T0
    )
    config = DriftConfig(categorical_metadata_fields=("source", "locale"))
    report = detect_drift_frames(
        ref_ev, cur_ev,
        reference_quality=quality_frame(ref_ev), current_quality=quality_frame(cur_ev),
        reference_signals=ref_sg, current_signals=cur_sg, config=config,
    )  # fmt: skip
    by_name = {r.feature: r for r in report.results}
    assert report.drifted and by_name["novelty"].drifted
    # The per-feature tests ran on units (regenerations folded in) and found nothing.
    units = len(independent_units(ref_ev))
    assert units < len(ref_ev) and by_name["prompt_length"].details["reference_n"] == units
    assert report.reference_size == len(ref_ev)
    assert not any(r.drifted for r in report.results if r.type != "embedding")
