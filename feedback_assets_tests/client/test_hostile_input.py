"""The client never lets a bad row raise anything but ValidationError, never lets it affect its
neighbours, and dead-letters it as plain JSON: surrogates, deep or cyclic nesting and hostile
objects, in log_inference and in log_inferences (also across BATCH_ROWS chunks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedback_assets.client import FeedbackClient
from feedback_assets.client.feedback_client import BATCH_ROWS
from feedback_assets.domain.ingest.validate import ValidationError
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.domain.ingest.test_hostile_input import BASE, CASES, Unreadable

BAD = [payload for _, payload, _ in CASES] + [Unreadable(), "not an event", None]


def _stored(url: str) -> tuple[int, list[dict]]:
    store = FeedbackStore(url)
    try:
        dead = store.read_dead_letters()
        return store.counts()["events"], [json.loads(p) for p in dead["payload"]]
    finally:
        store.dispose()


def test_single_events_raise_only_validation_errors(sqlite_url: str, tmp_path: Path) -> None:
    with FeedbackClient(sqlite_url, data_dir=tmp_path) as client:
        for payload in BAD:
            with pytest.raises(ValidationError):
                client.log_inference(payload)
        client.log_inference(BASE)
        client.log_inference({**BASE, "response": ""})  # an empty answer is an event
        assert client.flush(timeout=30)
    events, dead = _stored(sqlite_url)
    assert events == 2 and len(dead) == len(BAD)
    hashed = [d["user_id"] for d in dead if "user_id" in d]
    assert hashed and all(len(h) == 64 and "\ud800" not in h for h in hashed)  # still an HMAC


def test_a_bad_row_never_affects_its_neighbours(sqlite_url: str, tmp_path: Path) -> None:
    rows: list = []
    for payload in BAD:
        rows += [{**BASE, "prompt": f"good {len(rows)}"}, payload]
    # A long batch whose bad rows sit in its last chunk: nothing before them is spooled twice.
    rows = [{**BASE, "prompt": f"lead {i}"} for i in range(2 * BATCH_ROWS)] + rows
    with FeedbackClient(sqlite_url, data_dir=tmp_path, raise_on_invalid=True) as client:
        ids = client.log_inferences(rows)
        assert client.flush(timeout=60)
    bad_at = {i for i, r in enumerate(rows) if any(r is b for b in BAD)}
    assert {i for i, v in enumerate(ids) if v is None} == bad_at
    events, dead = _stored(sqlite_url)
    assert events == len(rows) - len(BAD) and len(dead) == len(BAD)
