"""Dead endpoints cost a bounded time: against a port with nothing listening and against a
server that accepts connections but never answers, the judge, the embedder and the launchers
open their circuit after N failures in a row and skip the rest of the run with a reason; a
PostgreSQL that never answers fails the connect within its timeout, and a statement that runs
too long is cancelled."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedback_assets.resources.circuit import CircuitOpenError
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.launchers.base import LaunchRequest, Redactor
from feedback_assets.resources.launchers.webhook import run_webhook
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.openai_server import OpenAICompatServer
from feedback_assets_tests.resources.test_llm_judge import DictCache, items


class SilentServer:
    """Accepts TCP connections and never sends a byte (a hung service)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # held open, never answered

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(params=["refused", "silent"])
def dead_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refused":
        yield f"http://127.0.0.1:{_closed_port()}/v1"
    else:
        server = SilentServer()
        yield f"http://127.0.0.1:{server.port}/v1"
        server.close()


def test_the_judge_stops_calling_a_dead_endpoint(dead_url: str) -> None:
    judge = LLMJudgeResource(
        enabled=True,
        base_url=dead_url,
        api_key="sk-secret-value",
        sample_rate=1.0,
        max_concurrency=2,
        max_retries=3,
        timeout_s=0.5,
        backoff_base_s=0.01,
        backoff_max_s=0.02,
        circuit_failures=4,
    )
    started = time.monotonic()
    run = judge.judge(items(200), DictCache())
    elapsed = time.monotonic() - started
    meta = run.metadata()
    assert meta["judge_circuit_open"] is True
    assert "judge: circuit open after 4 consecutive failures" in meta["judge_circuit_reason"]
    assert "sk-secret-value" not in meta["judge_circuit_reason"]
    counts = meta["judge_status_counts"]
    assert counts.get("skipped_circuit", 0) >= 195 and set(counts) <= {"failed", "skipped_circuit"}
    assert run.requests <= 4 + 2  # the in-flight requests finish; nothing new starts
    assert run.results["judge_score"].isna().all()  # absent, never a pass
    # Without the breaker: 200 judgements x 4 tries x up to 0.5 s, 2 at a time.
    assert elapsed < 10, elapsed


def test_an_open_circuit_is_remembered_by_later_runs_until_its_cooldown(
    silent: SilentServer, tmp_path: Path
) -> None:
    """A backfill against a hung judge pays the timeouts in its first run only."""
    state = tmp_path / "circuits"
    settings = {
        "enabled": True,
        "api_key": "sk-secret-value",
        "sample_rate": 1.0,
        "max_concurrency": 2,
        "max_retries": 0,
        "timeout_s": 0.5,
        "circuit_failures": 2,
        "circuit_state_dir": str(state),
        "circuit_cooldown_s": 60.0,
    }
    dead = f"http://127.0.0.1:{silent.port}/v1"
    first = LLMJudgeResource(base_url=dead, **settings).judge(items(20), DictCache())
    assert first.metadata()["judge_circuit_open"] and first.requests >= 2
    assert "sk-secret-value" not in (state / "judge.json").read_text()
    started = time.monotonic()
    later = LLMJudgeResource(base_url=dead, **settings).judge(items(20), DictCache())
    assert time.monotonic() - started < 0.4  # no timeout paid: skipped at once
    assert later.requests == 0
    assert "opened by an earlier run" in later.metadata()["judge_circuit_reason"]
    # After the cooldown the next run tries again (half-open): one failure re-opens it...
    saved = json.loads((state / "judge.json").read_text())
    (state / "judge.json").write_text(json.dumps({**saved, "open_until": time.time() - 1}))
    cooled = {**settings, "circuit_cooldown_s": 0.0}
    retried = LLMJudgeResource(base_url=dead, **cooled).judge(items(20), DictCache())
    assert retried.requests <= 2 and retried.metadata()["judge_circuit_open"]
    # ... and one success against a healthy endpoint closes it and forgets the state.
    with OpenAICompatServer() as healthy:
        recovered = LLMJudgeResource(base_url=healthy.base_url, **cooled).judge(
            items(5), DictCache()
        )
    assert not recovered.metadata()["judge_circuit_open"]
    assert recovered.results["judge_score"].notna().all()
    assert not (state / "judge.json").exists()


def test_the_embedder_skips_a_dead_endpoint_for_the_rest_of_the_run(dead_url: str) -> None:
    embedder = EmbedderResource(
        kind="openai", base_url=dead_url, api_key="k", timeout_s=0.5, circuit_failures=2
    )
    for _ in range(2):
        with pytest.raises(Exception) as info:
            embedder.embed(["a", "b"])
        assert not isinstance(info.value, CircuitOpenError)
    started = time.monotonic()
    with pytest.raises(CircuitOpenError, match="embedder: circuit open after 2 consecutive"):
        embedder.embed(["c"])
    assert time.monotonic() - started < 0.1  # no request made
    assert embedder.circuit_metadata()["embedder_circuit_open"] is True


def test_a_webhook_launch_stops_after_the_circuit_opens(silent: SilentServer, tmp_path: Path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"batch_id": "b"}))
    request = LaunchRequest("dep", "b", str(tmp_path), {}, str(manifest), "v2")
    started = time.monotonic()
    result = run_webhook(
        request,
        url=f"http://127.0.0.1:{silent.port}/train",
        token="tok-secret",
        timeout_s=1.0,
        max_retries=10,
        backoff_s=0.01,
        redact=Redactor(["tok-secret"]),
        circuit_failures=2,
    )
    assert result.status == "failed" and result.attempts == 2
    assert "launcher: circuit open after 2 consecutive failures" in (result.error or "")
    assert time.monotonic() - started < 5  # 11 attempts x 1 s timeout without the breaker


def test_postgres_that_never_answers_fails_the_connect_in_time(silent: SilentServer) -> None:
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError):
        FeedbackStore(f"postgresql://u:p@127.0.0.1:{silent.port}/db", connect_timeout_s=1)
    assert time.monotonic() - started < 10


def test_a_statement_past_its_timeout_is_cancelled(pg_url: str) -> None:
    store = FeedbackStore(pg_url, statement_timeout_ms=300)
    try:
        started = time.monotonic()
        with (
            pytest.raises(sa.exc.OperationalError, match="statement timeout"),
            store.engine.connect() as conn,
        ):
            conn.execute(sa.text("SELECT pg_sleep(30)"))
        assert time.monotonic() - started < 5
        assert store.count("events") == 0  # the store stays usable
    finally:
        store.dispose()
