"""drift_partition on stored features: the same results as detect_drift_frames on the raw
texts, a reference cache that is reused, rebuilt when its window changes and dropped on reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.drift.drift import detect_drift_frames, results_frame
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.resources.loop_settings import QualitySettings
from feedback_assets.services.drift_reports import drift_partition, live_report
from feedback_assets.services.live_windows import refresh_live_window
from feedback_assets.services.quality_scores import score_partition
from feedback_assets.services.sanitized_logs import sanitize_partition
from feedback_assets.services.windows import WindowSettings, fresh_window, reference_window
from feedback_assets.store import FeedbackStore, schema
from feedback_assets.store.drift_features import WindowSpec, read_features
from feedback_assets.store.references import active_reference, reset_reference
from feedback_assets.store.windows import deployment_window, window_between

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
START = int(DAY0.timestamp() * 1e6)
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")
DEP = "support-bot"
# Small windows, yet every test runs: a text sample below the window size (sampling is
# exercised), metadata categories, few permutations to keep the test quick.
CONFIG = DriftConfig(
    min_samples=20,
    embedding_permutations=200,
    embedding_max_samples=120,
    categorical_metadata_fields=("source",),
)


def _fill(store: FeedbackStore, n: int = 900, shift: float = 0.4) -> None:
    """Three days of one deployment; the third day's topics shift. Scored in 37-row chunks."""
    events, signals = generate_stream(n, seed=3, deployment_id=DEP, start=DAY0)
    shifted, shifted_signals = generate_stream(
        n // 3, seed=4, deployment_id=DEP, start=DAY0, topic_shift=shift
    )
    stretch = 3 * DAY_US / 1e6 / n  # n events ~1 s apart -> spread over three days
    for frame in (events, signals):
        frame["timestamp"] = DAY0 + (frame["timestamp"] - DAY0) * stretch
    for frame in (shifted, shifted_signals):  # replaces the third day
        frame["timestamp"] = DAY0 + pd.Timedelta(days=2) + (frame["timestamp"] - DAY0) * stretch
    third = pd.Timestamp(DAY0 + pd.Timedelta(days=2))
    keep = events["timestamp"] < third
    store.insert_events(pd.concat([events[keep], shifted], ignore_index=True))
    kept_signals = signals[signals["event_id"].isin(events.loc[keep, "event_id"])]
    store.insert_signals(pd.concat([kept_signals, shifted_signals], ignore_index=True))
    quality = QualitySettings().config(DEP)
    for i, day in enumerate(DAYS):
        sanitize_partition(store, day, DEP, (START + i * DAY_US, START + (i + 1) * DAY_US), ())
        score_partition(store, day, DEP, quality, chunk_rows=37)


def _raw_results(store: FeedbackStore, day: str) -> pd.DataFrame:
    """Today's path: both windows read with their texts, features built from the texts."""
    ref = active_reference(store, DEP)
    assert ref is not None
    reference = window_between(store, DEP, int(ref["start_us"]), int(ref["end_us"]))
    current = deployment_window(store, day, DEP)
    report = detect_drift_frames(
        reference.events,
        current.events,
        reference_quality=reference.quality,
        current_quality=current.quality,
        reference_signals=reference.signals,
        current_signals=current.signals,
        embed=hashing_embed,
        config=CONFIG,
        deployment_id=DEP,
    )
    return results_frame(report)


def _stored(store: FeedbackStore, day: str) -> pd.DataFrame:
    i = DAYS.index(day)
    drift = drift_partition(
        store,
        day=day,
        deployment_id=DEP,
        window=(START + i * DAY_US, START + (i + 1) * DAY_US),
        config=CONFIG,
        reference_days=2,
        embed=hashing_embed,
        plot_path=None,
    )
    return drift.results


def _cache_rows(store: FeedbackStore) -> pd.DataFrame:
    return store.read_table("drift_reference_cache", deployment_id=DEP)


@pytest.mark.parametrize("day", ["2026-03-02", "2026-03-03"])
def test_stored_features_give_the_raw_text_results(store: FeedbackStore, day: str) -> None:
    _fill(store)
    stored = _stored(store, day)
    pd.testing.assert_frame_equal(stored, _raw_results(store, day))
    tested = stored[stored["severity"] != "insufficient_data"]
    # Every kind of test ran: numbers, categories (metadata too), rates, feedback, texts.
    assert {"prompt_length", "metadata.source", "refusal_rate", "thumbs_down_rate"} <= set(
        tested["feature"]
    )
    assert {"embedding", "novelty"} <= set(tested["feature"])
    if day == "2026-03-03":  # the shifted day drifts, on the texts at least
        assert tested.loc[tested["type"] == "embedding", "drifted"].any()


def test_the_reference_cache_is_reused_rebuilt_and_dropped(store: FeedbackStore) -> None:
    _fill(store)
    first = _stored(store, "2026-03-03")
    cached = _cache_rows(store)
    assert len(cached) == 1
    pd.testing.assert_frame_equal(_stored(store, "2026-03-03"), first)
    assert _cache_rows(store)["created_us"].tolist() == cached["created_us"].tolist()  # reused

    # Late feedback on a reference event changes the reference window: rebuilt, still exact.
    ref_event = store.read_table("sanitized_logs", partition_key="2026-03-01").iloc[0]
    late = pd.DataFrame(
        [
            {
                "signal_id": f"late-{i}",
                "event_id": ref_event["event_id"],
                "deployment_id": DEP,
                "signal_type": "report",
                "user_id": None,
                "edited_response": None,
                "metadata": "{}",
                "timestamp_us": int(ref_event["timestamp_us"]) + i,
            }
            for i in range(3)
        ]
    )
    store.append("sanitized_signals", late.assign(partition_key="2026-03-01"))
    again = _stored(store, "2026-03-03")
    assert _cache_rows(store)["fingerprint"].tolist() != cached["fingerprint"].tolist()
    pd.testing.assert_frame_equal(again, _raw_results(store, "2026-03-03"))

    reset_reference(store, DEP, START + 2 * DAY_US, "retrained")
    assert _cache_rows(store).empty


def test_a_capped_read_is_a_deterministic_sample(store: FeedbackStore) -> None:
    _fill(store)
    window = WindowSpec(DEP, DAYS[:2], START, START + 2 * DAY_US)
    full = read_features(store, window)
    first, second = read_features(store, window, cap=200), read_features(store, window, cap=200)
    pd.testing.assert_frame_equal(first, second)
    assert 120 <= len(first) <= 280 < len(full)  # about the cap (a hash threshold)
    assert set(first["event_id"]) <= set(full["event_id"])
    assert first["timestamp_us"].is_monotonic_increasing
    with pytest.raises(ValueError, match="cap"):
        read_features(store, window, cap=0)


def test_days_scored_before_event_features_are_read_from_their_texts(
    store: FeedbackStore,
) -> None:
    _fill(store)
    with store.engine.begin() as conn:  # as a store scored before migration 0011 has it
        conn.execute(schema.event_features.delete())
    results = _stored(store, "2026-03-03")
    assert (results["severity"] != "insufficient_data").sum() > 10
    pd.testing.assert_frame_equal(results, _raw_results(store, "2026-03-03"))


def test_live_windows_judge_against_the_cached_reference(store: FeedbackStore) -> None:
    _fill(store)
    settings = WindowSettings(quality=QualitySettings().config(DEP), drift=CONFIG)
    now = DAY0 + timedelta(days=3)
    live = refresh_live_window(store, DEP, now, 24 * 60, settings)
    assert live.report is not None and live.events > 200
    assert len(_cache_rows(store)) == 1  # built by the live window, reused by the asset
    # Today's path: the reference's sanitized rows and their texts, features rebuilt.
    reference, _ = reference_window(store, DEP, settings)
    events = store.read_events(deployment_id=DEP, start_us=live.start_us, end_us=live.end_us)
    current = fresh_window(store, events, settings).window
    expected = live_report(reference, current, deployment_id=DEP, config=CONFIG)
    pd.testing.assert_frame_equal(results_frame(live.report), results_frame(expected))
