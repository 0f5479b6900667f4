"""Forked children (multiprocessing fork, gunicorn --preload workers) generate their own ids,
open their own database connections, and deliver their own events."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from feedback_assets.client import FeedbackClient
from feedback_assets.domain.ingest.ids import new_event_id
from feedback_assets.store import FeedbackStore

ROOT = Path(__file__).resolve().parents[2]
FORK = mp.get_context("fork")


def _random_part(event_id: str) -> str:
    """The id's random bits (after the millisecond time and the version nibble)."""
    return event_id.replace("-", "")[13:]


def _child_ids(out: Any) -> None:
    out.put([new_event_id() for _ in range(200)])


def test_forked_children_do_not_repeat_the_parents_ids() -> None:
    new_event_id()  # the parent's pool is filled before the fork, as in a preloading server
    out = FORK.Queue()
    children = [FORK.Process(target=_child_ids, args=(out,)) for _ in range(3)]
    for c in children:
        c.start()
    batches = [out.get(timeout=60) for _ in children]
    for c in children:
        c.join(timeout=60)
    batches.append([new_event_id() for _ in range(200)])
    parts = [_random_part(i) for batch in batches for i in batch]
    assert len(set(parts)) == len(parts) == 800


def _child_logs(client: FeedbackClient, out: Any) -> None:
    ids = [
        client.log_inference(deployment_id="fork", prompt="child", response="r") for _ in range(200)
    ]
    out.put(ids)  # then exit without close(): the client flushes at the child's exit


def test_a_client_used_before_fork_delivers_from_its_children(
    sqlite_url: str, tmp_path: Path
) -> None:
    with FeedbackClient(sqlite_url, data_dir=tmp_path, flush_interval=0.2) as client:
        first = client.log_inference(deployment_id="fork", prompt="parent", response="r")
        out = FORK.Queue()
        children = [FORK.Process(target=_child_logs, args=(client, out)) for _ in range(3)]
        for c in children:
            c.start()
        ids = [first]
        for _ in children:
            ids += out.get(timeout=60)
        for c in children:
            c.join(timeout=60)
        assert [c.exitcode for c in children] == [0, 0, 0]
        assert client.flush(timeout=30)
    store = FeedbackStore(sqlite_url)
    try:
        stored = set(store.read_events(deployment_id="fork")["event_id"])
    finally:
        store.dispose()
    assert len(ids) == len(set(ids)) == 601 and stored == set(ids)
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # nothing left for a later replay


def _child_backend(store: FeedbackStore, out: Any) -> None:
    pids = set()
    for _ in range(30):
        with store.engine.connect() as conn:
            pids.add(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar())
    out.put((sorted(pids), store.counts()["events"]))


def test_a_forked_child_opens_its_own_database_connections(pg_url: str) -> None:
    store = FeedbackStore(pg_url)
    try:
        with store.engine.connect() as conn:
            parent = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        out = FORK.Queue()
        child = FORK.Process(target=_child_backend, args=(store, out))
        child.start()
        for _ in range(30):  # the parent keeps using its pooled connection meanwhile
            with store.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == parent
        child_pids, events = out.get(timeout=60)
        child.join(timeout=60)
        assert child.exitcode == 0 and events == 0
        assert parent not in child_pids
    finally:
        store.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return dict(orjson.loads(resp.read()))


def test_gunicorn_preload_workers_log_unique_events_and_deliver_them(
    sqlite_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FEEDBACK_STORE_URL": sqlite_url,
        "FEEDBACK_DATA_DIR": str(tmp_path),
    }
    cmd = [sys.executable, "-m", "gunicorn", "--preload", "-w", "3", "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*cmd, "feedback_assets_tests.client.wsgi_app:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    replies = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                replies.append(_get(f"http://127.0.0.1:{port}/"))
                break
            assert server.poll() is None, server.communicate()[0]
            time.sleep(0.2)
        replies += [_get(f"http://127.0.0.1:{port}/") for _ in range(89)]
        ids = [i for r in replies for i in r["ids"]]
        store = FeedbackStore(sqlite_url)
        try:  # delivered by the workers' own threads while they serve
            deadline = time.time() + 30
            while store.count("events") < len(ids) + 1 and time.time() < deadline:
                time.sleep(0.2)
            stored = set(store.read_events(deployment_id="gunicorn")["event_id"])
        finally:
            store.dispose()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        log = server.communicate(timeout=60)[0].decode(errors="replace")
    assert len({r["pid"] for r in replies}) > 1, log[-2000:]  # several workers served
    assert len(ids) == 450 and len(set(ids)) == 450
    assert len({_random_part(i) for i in ids}) == 450
    assert set(ids) <= stored and len(stored) == 451, log[-2000:]
