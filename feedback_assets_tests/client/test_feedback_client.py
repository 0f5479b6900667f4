"""FeedbackClient end to end against real stores (SQLite file and a throwaway PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedback_assets.client import FeedbackClient, Telemetry
from feedback_assets.client.feedback_client import SMALL_BATCH
from feedback_assets.domain.ingest.validate import ValidationError
from feedback_assets.domain.pii.pii_version import pattern_set_version
from feedback_assets.domain.pii.sanitize import hash_user_id
from feedback_assets.settings import resolve_hash_key
from feedback_assets.store import FeedbackStore

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+1 (415) 555-0134"
USER = "alice.user@example.org"
RAW_PII = (EMAIL, CARD, PHONE, USER, "4111111111111111")


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _files_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


class Recorder:
    """A telemetry handler that keeps every (name, payload) it receives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __call__(self, name: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((name, dict(payload)))

    def named(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for n, p in self.events if n == name]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def telemetry(recorder: Recorder) -> Telemetry:
    tel = Telemetry()
    tel.register(recorder)
    return tel


@pytest.fixture
def reader(store_url: str) -> Iterator[FeedbackStore]:
    s = FeedbackStore(store_url)
    yield s
    s.dispose()


def _event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "deployment_id": "dep-a",
        "model_version_id": "m1",
        "prompt": "How do I reset my password?",
        "response": "Open settings and choose reset.",
        "latency_ms": 12.5,
        "token_count": 42,
    }
    return {**base, **overrides}


# -- privacy by default ------------------------------------------------------------------------


def test_log_inference_stores_sanitized_event_and_hashed_user(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path, flush_interval=0.1) as client:
        event_id = client.log_inference(
            _event(
                prompt=f"Email {EMAIL} about card {CARD}",
                response=f"Call {PHONE} please",
                user_id=USER,
                metadata={"contact": {"mail": EMAIL}, "tags": [f"phone {PHONE}", 7]},
            )
        )
        assert isinstance(event_id, str) and uuid.UUID(event_id)
        assert client.flush(timeout=10)
        stats = dict(client.stats)

    rows = reader.read_events()
    assert list(rows["event_id"]) == [event_id]
    row = rows.iloc[0]
    assert row["prompt"] == "Email [EMAIL] about card [CREDIT_CARD]"
    assert row["response"] == "Call [PHONE] please"
    key = resolve_hash_key(tmp_path, production=False)
    assert row["user_id"] == hash_user_id(USER, key)
    assert row["user_id"] != USER
    assert json.loads(row["metadata"]) == {
        "contact": {"mail": "[EMAIL]"},
        "tags": ["phone [PHONE]", 7],
    }
    assert row["latency_ms"] == 12.5 and row["token_count"] == 42
    assert stats["events"] == 1
    assert stats["redacted.EMAIL"] == 2 and stats["redacted.PHONE"] == 2

    # Nothing under the data dir (spool, hash key, the SQLite file and its WAL) holds raw PII.
    for path, data in _files_bytes(tmp_path).items():
        for raw in RAW_PII:
            assert raw.encode() not in data, f"{raw!r} found in {path}"


def test_spool_holds_no_raw_pii_before_any_flush(sqlite_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    client = FeedbackClient(
        sqlite_url, data_dir=data_dir, flush_interval=3600, max_batch_size=10**6
    )
    try:
        event_id = client.log_inference(
            _event(prompt=f"my mail is {EMAIL}", response=f"card {CARD} ok", user_id=USER)
        )
        batch_ids = client.log_inferences(  # the column-batch path, too
            [_event(prompt=f"{EMAIL} again", metadata={"card": CARD}, user_id=USER)] * 3
        )
        # Read the spool right after log_inference returned, before any flush happened.
        spooled = b"".join(_files_bytes(data_dir / "spool").values())
        for accepted in [event_id, *batch_ids]:
            assert str(accepted).encode() in spooled  # the record really is on disk already
        assert b"[EMAIL]" in spooled and b"[CREDIT_CARD]" in spooled
        for raw in RAW_PII:
            assert raw.encode() not in spooled
        assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # not delivered yet
    finally:
        client.close(timeout=10)


def test_sanitize_at_source_false_stores_raw_text(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path, sanitize_at_source=False) as client:
        client.log_inference(_event(prompt=f"mail {EMAIL}", metadata={"card": CARD}, user_id=USER))
        client.log_inferences(
            [_event(prompt=f"mail {EMAIL}", metadata={"card": CARD}, user_id=USER)]
        )
    rows = reader.read_events()
    assert len(rows) == 2
    for _, row in rows.iterrows():  # per-event and batch paths alike
        assert row["prompt"] == f"mail {EMAIL}"
        assert json.loads(row["metadata"]) == {"card": CARD}
        assert row["user_id"] != USER and len(row["user_id"]) == 64  # ids are always hashed
    assert rows["user_id"].nunique() == 1
    assert rows["pii_version"].isna().all()  # not redacted: sanitized_logs redacts them


def test_redacted_events_record_the_pattern_set_version(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    """Row and column-batch paths alike stamp the set they redacted with (pii_version)."""
    with FeedbackClient(store_url, data_dir=tmp_path) as client:
        client.log_inference(_event(prompt=f"mail {EMAIL}"))
        client.log_inferences([_event(prompt=f"mail {EMAIL} {i}") for i in range(SMALL_BATCH + 6)])
    rows = reader.read_events()
    assert len(rows) == SMALL_BATCH + 7
    assert set(rows["pii_version"]) == {pattern_set_version()}
    assert not rows["prompt"].str.contains(EMAIL, regex=False).any()


# -- validation and the dead letter -----------------------------------------------------------


def test_invalid_event_raises_naming_fields_and_is_dead_lettered(
    store_url: str, tmp_path: Path, reader: FeedbackStore, telemetry: Telemetry, recorder: Recorder
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path, telemetry=telemetry) as client:
        with pytest.raises(ValidationError) as info:
            client.log_inference(
                deployment_id="",
                prompt=None,
                response=f"reach me at {EMAIL}",
                latency_ms=-3,
                user_id=USER,
            )
        assert set(info.value.fields) == {"deployment_id", "prompt", "latency_ms"}
        assert "latency_ms" in str(info.value) and "prompt: is required" in str(info.value)
        assert client.flush(timeout=10)
        assert client.stats["invalid.event"] == 1

    dead = reader.read_dead_letters()
    assert len(dead) == 1 and reader.counts()["events"] == 0
    letter = dead.iloc[0]
    assert letter["kind"] == "event"
    assert "deployment_id" in letter["reason"] and "latency_ms" in letter["reason"]
    payload = json.loads(letter["payload"])
    assert payload["response"] == "reach me at [EMAIL]"
    assert payload["latency_ms"] == -3
    assert payload["user_id"] != USER
    assert EMAIL not in letter["payload"] and USER not in letter["payload"]

    invalid = recorder.named("ingestion.invalid")
    assert len(invalid) == 1 and invalid[0]["count"] == 1
    assert set(invalid[0]["fields"]) == {"deployment_id", "prompt", "latency_ms"}
    # Telemetry carries counts and reasons only, never the text.
    assert EMAIL not in repr(recorder.events)


def test_invalid_signal_is_dead_lettered_without_raising_when_asked(
    sqlite_url: str, tmp_path: Path
) -> None:
    with FeedbackClient(sqlite_url, data_dir=tmp_path, raise_on_invalid=False) as client:
        returned = client.record_signal("evt-1", "love_it")
        client.record_user_edit("evt-1", "")  # edit needs a non-empty edited_response
        assert isinstance(returned, str) and returned
    store = FeedbackStore(sqlite_url)
    dead = store.read_dead_letters()
    store.dispose()
    assert sorted(dead["kind"]) == ["signal", "signal"]
    reasons = " | ".join(dead["reason"])
    assert "signal_type" in reasons and "edited_response" in reasons


class _Opaque:
    def __str__(self) -> str:
        return f"owner {EMAIL}"


@pytest.mark.parametrize(
    "bad",
    [
        {"metadata": {1: "int key"}},  # not JSON: must be dead-lettered, not crash the encoder
        {"metadata": {"nested": {("t", 1): "tuple key"}}},
        {"response": f"mail {EMAIL}".encode()},  # bytes: repr would quote the raw email
        {"metadata": {"owner": _Opaque()}},
        {"latency_ms": f"from {EMAIL}"},  # the reason quotes the bad value
        {"prompt": f"{EMAIL} \ud800"},  # a lone surrogate: no encoder can write it
        {"metadata": {"big": 2**70, "who": EMAIL}},  # past 64 bits: JSON encoders refuse it
        {"latency_ms": 10**400},  # past the float range
    ],
    ids=[
        "int-key",
        "tuple-key",
        "bytes",
        "object",
        "reason-quotes-value",
        "surrogate",
        "huge-int",
        "huge-latency",
    ],
)
def test_unserializable_or_pii_bearing_invalid_payloads_are_dead_lettered_safely(
    sqlite_url: str, tmp_path: Path, bad: dict[str, Any]
) -> None:
    with FeedbackClient(sqlite_url, data_dir=tmp_path) as client:
        with pytest.raises(ValidationError) as info:
            client.log_inference(_event(**bad))
        assert set(info.value.fields) == set(bad)
    store = FeedbackStore(sqlite_url)
    dead = store.read_dead_letters()
    store.dispose()
    assert len(dead) == 1
    json.loads(dead.iloc[0]["payload"])  # still valid JSON
    for path, data in _files_bytes(tmp_path).items():
        assert EMAIL.encode() not in data, f"raw email in {path}"


def test_batch_keeps_valid_events_and_dead_letters_invalid_ones(
    store_url: str, tmp_path: Path, reader: FeedbackStore, telemetry: Telemetry, recorder: Recorder
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path, telemetry=telemetry) as client:
        ids = client.log_inferences(
            [
                _event(prompt="first"),
                _event(token_count=-1, prompt=" "),
                _event(prompt="third", metadata={"n": 2**70}),
                _event(prompt="fourth", timestamp="2025-06-01T00:00:00Z"),
                _event(prompt="fifth \ud800"),
            ]
        )
        assert ids[1] is None and ids[2] is None and ids[4] is None and ids[0] and ids[3]
        assert client.flush(timeout=10)

    events = reader.read_events()
    assert sorted(events["event_id"]) == sorted([ids[0], ids[3]])
    backfilled = events.set_index("event_id").loc[ids[3], "timestamp"]
    assert backfilled == datetime(2025, 6, 1, tzinfo=UTC)
    dead = reader.read_dead_letters()
    assert len(dead) == 3
    reasons = " | ".join(sorted(dead["reason"]))
    assert "token_count" in reasons and "prompt: must not be empty" in reasons
    assert "64 bits" in reasons
    assert "surrogate" in reasons
    invalid = recorder.named("ingestion.invalid")
    assert [sorted(p["fields"]) for p in invalid] == [
        ["prompt", "token_count"],
        ["metadata"],
        ["prompt"],
    ]
    flushed = recorder.named("ingestion.flush")
    assert sum(p["events"] for p in flushed) == 2
    assert sum(p.get("dead_letters", 0) for p in flushed) == 3
    spooled = recorder.named(
        "ingestion.spooled"
    )  # 2 events + 3 dead letters went through the spool
    assert sum(p["count"] for p in spooled) == 5 and all(p["bytes"] > 0 for p in spooled)


# -- flushing ------------------------------------------------------------------------------------


def test_size_triggered_flush(store_url: str, tmp_path: Path, reader: FeedbackStore) -> None:
    client = FeedbackClient(store_url, data_dir=tmp_path, max_batch_size=10, flush_interval=60)
    try:
        for i in range(9):
            client.log_inference(_event(prompt=f"q{i}"))
        time.sleep(0.3)
        assert reader.counts()["events"] == 0  # below the batch size, nothing was sent
        client.log_inference(_event(prompt="q9"))
        assert _wait_for(lambda: reader.counts()["events"] == 10, timeout=5)
    finally:
        client.close(timeout=10)


def test_time_triggered_flush(store_url: str, tmp_path: Path, reader: FeedbackStore) -> None:
    client = FeedbackClient(store_url, data_dir=tmp_path, max_batch_size=1000, flush_interval=0.2)
    try:
        event_id = client.log_inference(_event())
        assert _wait_for(lambda: reader.counts()["events"] == 1, timeout=5)
        assert list(reader.read_events()["event_id"]) == [event_id]
    finally:
        client.close(timeout=10)


def test_concurrent_callers_lose_nothing(sqlite_url: str, tmp_path: Path) -> None:
    ids: list[list[str]] = [[] for _ in range(4)]
    with FeedbackClient(sqlite_url, data_dir=tmp_path, max_batch_size=50, flush_interval=0.05) as c:

        def produce(k: int) -> None:
            for i in range(150):
                ids[k].append(c.log_inference(_event(prompt=f"t{k} q{i}")))

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    store = FeedbackStore(sqlite_url)
    stored = store.read_events()["event_id"]
    store.dispose()
    expected = {i for chunk in ids for i in chunk}
    assert len(expected) == 600
    assert len(stored) == 600 and set(stored) == expected


# -- signals and idempotency ----------------------------------------------------------------------


def test_signal_before_its_event_is_kept_and_joined_later(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    event_id = str(uuid.uuid4())
    with FeedbackClient(store_url, data_dir=tmp_path) as client:
        client.record_signal(event_id, "thumbs_up", {"source": "widget"})
        assert client.flush(timeout=10)
        early = reader.read_signals()
        assert list(early["event_id"]) == [event_id]
        assert early["deployment_id"].isna().all()  # event not seen yet

        assert client.log_inference(_event(event_id=event_id)) == event_id
        assert client.flush(timeout=10)

    signals = reader.read_signals()
    assert len(signals) == 1
    assert signals.iloc[0]["signal_type"] == "thumbs_up"
    assert signals.iloc[0]["deployment_id"] == "dep-a"
    assert json.loads(signals.iloc[0]["metadata"]) == {"source": "widget"}


def test_duplicate_event_ids_are_stored_once(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    event_id = str(uuid.uuid4())
    with FeedbackClient(store_url, data_dir=tmp_path) as client:
        client.log_inference(_event(event_id=event_id, prompt="original"))
        client.log_inference(_event(event_id=event_id, prompt="same batch retry"))
        assert client.flush(timeout=10)
        client.log_inference(_event(event_id=event_id, prompt="later retry"))
        assert client.flush(timeout=10)
        stats = dict(client.stats)
    rows = reader.read_events()
    assert list(rows["event_id"]) == [event_id]
    assert rows.iloc[0]["prompt"] == "original"
    assert stats["events"] == 1 and stats["events_duplicates"] == 2


def test_record_user_edit_stores_sanitized_edit(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path) as client:
        event_id = client.log_inference(_event())
        signal_id = client.record_user_edit(event_id, f"Better: write to {EMAIL}", user_id=USER)
    signals = reader.read_signals()
    assert list(signals["signal_id"]) == [signal_id]
    row = signals.iloc[0]
    assert row["signal_type"] == "edit" and row["event_id"] == event_id
    assert row["edited_response"] == "Better: write to [EMAIL]"
    assert row["user_id"] not in (None, USER)


# -- lifecycle ------------------------------------------------------------------------------------


def test_context_manager_flushes_and_close_is_idempotent(
    store_url: str, tmp_path: Path, reader: FeedbackStore
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path, flush_interval=3600) as client:
        ids = [client.log_inference(_event(prompt=f"p{i}")) for i in range(5)]
    assert sorted(reader.read_events()["event_id"]) == sorted(ids)
    assert not any((tmp_path / "spool").glob("*.jsonl"))  # delivered segments are deleted
    client.close()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.log_inference(_event())
