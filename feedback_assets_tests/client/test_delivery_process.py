"""delivery="process": the same durability guarantees with inserts in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from feedback_assets.client import FeedbackClient
from feedback_assets.client.delivery import DeliveryProcess
from feedback_assets.settings import ConfigurationError, load_settings
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.client.test_durability import (
    REPO,
    outage_round_trip,
    sigkill_then_replay,
)


@pytest.mark.slow
def test_sigkill_after_log_inference_loses_nothing(store_url: str, tmp_path: Path) -> None:
    sigkill_then_replay(store_url, tmp_path, "process")


@pytest.mark.slow
def test_postgres_outage_mid_stream_stores_every_event_once(tmp_path: Path) -> None:
    outage_round_trip(tmp_path, "process")


def test_batches_and_signals_are_delivered_and_the_child_exits(
    store_url: str, tmp_path: Path
) -> None:
    with FeedbackClient(store_url, data_dir=tmp_path, delivery="process") as client:
        ids = client.log_inferences(
            [
                {"deployment_id": "dep-p", "prompt": f"mail a{i}@example.com", "response": "r"}
                for i in range(300)
            ]
        )
        client.record_signal(str(ids[0]), "thumbs_up")
        assert client.flush(timeout=30)
        worker = client._worker
        assert worker is not None and worker._proc is not None
        proc = worker._proc
        stats = dict(client.stats)
    assert proc.poll() == 0  # close() ends the delivery process cleanly
    assert stats["events"] == 300 and stats["signals"] == 1
    assert stats["redacted.EMAIL"] == 300
    store = FeedbackStore(store_url)
    try:
        events = store.read_events()
        assert len(events) == 300 and not events["prompt"].str.contains("@").any()
        assert len(store.read_signals()) == 1
    finally:
        store.dispose()


def test_a_dead_delivery_process_is_restarted(sqlite_url: str, tmp_path: Path) -> None:
    worker = DeliveryProcess(sqlite_url)
    try:
        assert worker._proc is not None
        worker._proc.kill()
        worker._proc.wait(5)
        segment = tmp_path / "seg.jsonl"
        segment.write_bytes(
            b'{"k":"e","event_id":"e1","deployment_id":"d","prompt":"p","response":"r",'
            b'"metadata":"{}","timestamp_us":1}\n'
        )
        counts = worker.deliver([segment])
        assert counts["events"] == 1
        again = worker.deliver([segment])
        assert again["events"] == 0 and again["events_duplicates"] == 1
    finally:
        worker.close()


EXITING_CHILD = textwrap.dedent(
    """
    import sys
    from feedback_assets.client import FeedbackClient

    client = FeedbackClient(sys.argv[1], data_dir=sys.argv[2], flush_interval=3600,
                            max_batch_size=10**9, delivery="process")
    for i in range(50):
        client.log_inference(deployment_id="dep-x", prompt=f"q{i}", response="a")
    print(client._worker.pid, flush=True)
    # No flush() and no close(): the at-exit hook must deliver and stop the worker.
    """
)


@pytest.mark.slow
def test_at_exit_flush_delivers_and_stops_the_worker(sqlite_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-c", EXITING_CHILD, sqlite_url, str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    worker_pid = int(proc.stdout.split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)
    store = FeedbackStore(sqlite_url)
    try:
        assert store.counts()["events"] == 50
    finally:
        store.dispose()
    assert not list((data_dir / "spool").glob("*.jsonl"))


def test_delivery_mode_comes_from_the_environment(sqlite_url: str, tmp_path: Path) -> None:
    env = {"FEEDBACK_DATA_DIR": str(tmp_path), "FEEDBACK_DELIVERY": "process"}
    with FeedbackClient(sqlite_url, settings=load_settings(env)) as client:
        assert client._worker is not None and client._worker.pid
        client.log_inference(deployment_id="d", prompt="p", response="r")
        assert client.flush(timeout=30)
    with FeedbackClient(sqlite_url, settings=load_settings(env), delivery="thread") as client:
        assert client._worker is None  # the argument wins over the environment
    with pytest.raises(
        ConfigurationError,
        match=r"FEEDBACK_DELIVERY: must be one of \['thread', 'process'\], got 'fork'",
    ):
        load_settings({**env, "FEEDBACK_DELIVERY": "fork"})
