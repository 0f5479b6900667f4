"""Durability: accepted events survive a SIGKILL of the app and an outage of PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from feedback_assets.client import FeedbackClient, Telemetry
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.pg_server import start_postgres

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys, time, uuid
    from feedback_assets.client import FeedbackClient

    url, data_dir, n, delivery = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    client = FeedbackClient(url, data_dir=data_dir, flush_interval=3600, max_batch_size=10**9,
                            delivery=delivery)
    half = n // 2
    def event(i):
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"event-{i}"))
        return dict(deployment_id="dep-k", prompt=f"question {i}", response="answer",
                    event_id=event_id)
    for i in range(half):
        client.log_inference(**event(i))
    client.flush()  # the first half reaches the store before the kill
    for lo in range(half, n, 50):  # the second half as column batches ("E" lines)
        client.log_inferences(event(i) for i in range(lo, min(lo + 50, n)))
    client.record_signal(str(uuid.uuid5(uuid.NAMESPACE_URL, "event-0")), "thumbs_up")
    print("logged", flush=True)
    time.sleep(600)
    """
)


def _expected_ids(n: int) -> set[str]:
    return {str(uuid.uuid5(uuid.NAMESPACE_URL, f"event-{i}")) for i in range(n)}


@pytest.mark.slow
def test_sigkill_after_log_inference_loses_nothing(store_url: str, tmp_path: Path) -> None:
    sigkill_then_replay(store_url, tmp_path, "thread")


def sigkill_then_replay(store_url: str, tmp_path: Path, delivery: str) -> None:
    """Kill an app after log_inference returned; the next client replays everything once."""
    n = 400
    data_dir = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url, str(data_dir), str(n), delivery],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "logged", child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    store = FeedbackStore(store_url)
    try:
        before = store.counts()["events"]
        assert n // 2 <= before < n  # only the explicitly flushed half was delivered
        segments = list((data_dir / "spool").glob("*.jsonl"))
        assert segments
        # A kill mid-write can leave a torn last line; replay must skip it, not fail.
        with open(segments[-1], "ab") as fh:
            fh.write(b'{"k":"E","cols":{"event_id":["torn')

        tel = Telemetry()
        replays: list[int] = []
        tel.register(
            lambda name, p: replays.append(p["count"]) if name == "ingestion.replay" else None
        )
        with FeedbackClient(
            store_url, data_dir=data_dir, telemetry=tel, delivery=delivery
        ) as client:  # type: ignore[arg-type]
            assert client.flush(timeout=30)
            stats = dict(client.stats)
        assert replays and replays[0] >= 1
        assert stats["corrupt_lines"] == 1

        events = store.read_events()
        assert len(events) == n  # every accepted event, exactly once
        assert set(events["event_id"]) == _expected_ids(n)
        signals = store.read_signals()
        assert len(signals) == 1 and signals.iloc[0]["deployment_id"] == "dep-k"
        assert not list((data_dir / "spool").glob("*.jsonl"))
    finally:
        store.dispose()


EXITING_CHILD = textwrap.dedent(
    """
    import sys
    from feedback_assets.client import FeedbackClient

    client = FeedbackClient(sys.argv[1], data_dir=sys.argv[2], flush_interval=3600,
                            max_batch_size=10**9)
    for i in range(50):
        client.log_inference(deployment_id="dep-x", prompt=f"q{i}", response="a")
    # No flush() and no close(): the at-exit hook must deliver.
    """
)


@pytest.mark.slow
def test_events_are_flushed_at_interpreter_exit(sqlite_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-c", EXITING_CHILD, sqlite_url, str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    store = FeedbackStore(sqlite_url)
    try:
        assert store.counts()["events"] == 50
    finally:
        store.dispose()
    assert not list((data_dir / "spool").glob("*.jsonl"))


FACADE_CHILD = textwrap.dedent(
    """
    from feedback_assets import api

    event_id = api.log_inference(deployment_id="dep-f", prompt="mail a.b@example.com", response="ok")
    api.record_signal(event_id, "thumbs_up")
    assert api.flush()
    api.record_user_edit(event_id, "better answer")
    print(event_id)
    # The edit is delivered by the default client's at-exit flush.
    """
)


@pytest.mark.slow
def test_api_facade_uses_the_environment_and_flushes_at_exit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'facade.db'}"
    env = {**os.environ, "FEEDBACK_STORE_URL": url, "FEEDBACK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-c", FACADE_CHILD],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    event_id = proc.stdout.strip().splitlines()[-1]
    store = FeedbackStore(url)
    try:
        events = store.read_events()
        assert list(events["event_id"]) == [event_id]
        assert events.iloc[0]["prompt"] == "mail [EMAIL]"
        signals = store.read_signals()
        assert sorted(signals["signal_type"]) == ["edit", "thumbs_up"]
    finally:
        store.dispose()


@pytest.mark.slow
def test_postgres_outage_mid_stream_stores_every_event_once(tmp_path: Path) -> None:
    outage_round_trip(tmp_path, "thread")


def outage_round_trip(tmp_path: Path, delivery: str) -> None:
    """Stop PostgreSQL mid-stream and start it again: every event stored exactly once."""
    server = start_postgres()  # dedicated: this test stops and restarts it
    try:
        url = server.create_database("outage")
        store = FeedbackStore(url)
        ids: list[str] = []
        client = FeedbackClient(
            url,
            data_dir=tmp_path,
            max_batch_size=20,
            flush_interval=0.05,
            delivery=delivery,  # type: ignore[arg-type]
        )
        try:
            for i in range(100):
                ids.append(
                    client.log_inference(deployment_id="dep-o", prompt=f"q{i}", response="a")
                )
            assert client.flush(timeout=10)
            assert store.counts()["events"] == 100
            store.dispose()

            server.stop()
            started = time.perf_counter()
            for i in range(100, 250):
                ids.append(
                    client.log_inference(deployment_id="dep-o", prompt=f"q{i}", response="a")
                )
                if i % 25 == 0:
                    time.sleep(0.05)  # let the flusher attempt deliveries during the outage
            assert time.perf_counter() - started < 5  # logging never waits on the dead store
            deadline = time.monotonic() + 5
            while client.stats["store_errors"] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.stats["store_errors"] > 0
            assert not client.flush(timeout=0.3)  # cannot deliver while the server is down

            server.start()
            assert client.flush(timeout=30)
            stats = dict(client.stats)
        finally:
            client.close(timeout=10)

        store = FeedbackStore(url)
        events = store.read_events()
        store.dispose()
        assert len(events) == 250
        assert events["event_id"].is_unique
        assert set(events["event_id"]) == set(ids)
        assert stats["store_errors"] > 0
    finally:
        server.destroy()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens there once the socket is closed: every connect is refused.
    return f"postgresql://nobody:nothing@127.0.0.1:{port}/none"


# -- bounded spool while the store is down ------------------------------------------------------


def test_drop_oldest_bounds_the_spool_and_counts_drops(tmp_path: Path) -> None:
    telemetry = Telemetry()
    seen: list[tuple[str, dict[str, Any]]] = []
    telemetry.register(lambda name, payload: seen.append((name, dict(payload))))
    limit = 4_000
    client = FeedbackClient(
        _closed_port_url(),
        data_dir=tmp_path,
        max_batch_size=2,
        flush_interval=0.05,
        max_spool_bytes=limit,
        overflow="drop_oldest",
        telemetry=telemetry,
    )
    try:
        started = time.perf_counter()
        for i in range(60):
            client.log_inference(
                dict(deployment_id="dep-b", response="a", prompt=f"question {i} " + "x" * 400)
            )
        assert time.perf_counter() - started < 5  # never waits for the dead store
        spool_bytes = sum(p.stat().st_size for p in (tmp_path / "spool").glob("*.jsonl"))
        assert spool_bytes <= limit + 1_000  # bounded: at most one record over the limit
        assert client.stats["dropped_segments"] > 0
        dropped = [p for n, p in seen if n == "ingestion.dropped"]
        assert len(dropped) == client.stats["dropped_segments"]
        assert all(p["bytes"] > 0 for p in dropped)
        deadline = time.monotonic() + 3
        while client.stats["store_errors"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.stats["store_errors"] > 0
    finally:
        client.close(timeout=0.5)
    assert any(n == "ingestion.undelivered_at_close" for n, _ in seen)


def test_block_waits_while_store_is_down_then_proceeds(tmp_path: Path) -> None:
    # The SQLite file's parent is a regular file, so the store cannot open until it is removed.
    blocker = tmp_path / "db"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker / 'feedback.db'}"
    client = FeedbackClient(
        url,
        data_dir=tmp_path / "data",
        max_batch_size=2,
        flush_interval=0.05,
        max_spool_bytes=3_000,
        overflow="block",
    )
    done = threading.Event()
    ids: list[str] = []

    def produce() -> None:
        for i in range(20):
            ids.append(
                client.log_inference(
                    dict(deployment_id="dep-b", response="a", prompt=f"q{i} " + "y" * 400)
                )
            )
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    try:
        producer.start()
        assert not done.wait(1.0)  # blocked: the spool is full and the store is down
        assert client.stats["blocked"] > 0
        assert client.stats["store_errors"] > 0
        assert len(ids) < 20
        blocker.unlink()  # the store comes back
        assert done.wait(15)
        assert client.flush(timeout=15)
    finally:
        client.close(timeout=10)
        producer.join(5)
    store = FeedbackStore(url)
    assert sorted(store.read_events()["event_id"]) == sorted(ids)
    store.dispose()
