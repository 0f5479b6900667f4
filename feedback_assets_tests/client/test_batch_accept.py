"""FeedbackClient's batch calls that report per-row errors, and overflow="reject"."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedback_assets.client import FeedbackClient, SpoolFull
from feedback_assets.store import FeedbackStore


def _client(tmp_path: Path, **options: object) -> FeedbackClient:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    return FeedbackClient(url, data_dir=tmp_path, flush_interval=60, **options)  # type: ignore[arg-type]


def test_accept_inferences_and_signals_report_each_bad_row(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        events = client.accept_inferences(
            [{"deployment_id": "d", "prompt": "p", "response": "r"}, {"deployment_id": "d"}]
        )
        assert events.count == 1 and events.ids[0] and events.ids[1] is None
        ((index, exc),) = events.errors
        assert index == 1 and exc.fields == ["prompt", "response"]
        signals = client.accept_signals(
            [
                {"event_id": events.ids[0], "signal_type": "thumbs_up"},
                {"event_id": events.ids[0], "signal_type": "edit"},
            ]
        )
        assert signals.count == 1 and [i for i, _ in signals.errors] == [1]
        assert signals.errors[0][1].fields == ["edited_response"]
        assert client.flush()
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    counts = store.counts()
    assert (counts["events"], counts["signals"], counts["dead_letters"]) == (1, 1, 2)


def test_reject_refuses_a_call_while_the_spool_is_full(tmp_path: Path) -> None:
    with _client(tmp_path, overflow="reject", max_spool_bytes=1) as client:
        client.log_inference(deployment_id="d", prompt="first", response="r")
        accepted = client.stats["accepted"]
        with pytest.raises(SpoolFull):
            client.log_inferences([{"deployment_id": "d", "prompt": "second", "response": "r"}])
        with pytest.raises(SpoolFull):
            client.record_signal("some-event", "copy")
        assert client.stats["accepted"] == accepted  # nothing of a refused call was spooled
        assert client.flush()
        client.log_inferences([{"deployment_id": "d", "prompt": "second", "response": "r"}])
        assert client.flush()
    events = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}").read_events()
    assert sorted(events["prompt"]) == ["first", "second"]
