"""The collector over real HTTP: events/s and request latency, beside one event per request.

    .venv/bin/python -m bench.bench_collector [--quick]

Each case starts `python -m feedback_assets.collector` (delivery="process": the server process
parses, validates, redacts and spools; a child process stores) on a fresh SQLite store, then an
httpx.AsyncClient pool of `concurrency` connections (in this process, on the same 2 cores) sends
pre-encoded bodies as fast as they are answered. It reports:
- `accepted_events_s`: events answered 202 (validated, redacted, spooled) per second;
- `stored_events_s`: until every event is in the store (the clock stops when the count is reached);
- `p50_ms` / `p99_ms`: per-request latency as the client sees it;
- `server_cpu_us_event`: the server process's CPU time per event while answering (the part that
  does not depend on what else runs on the machine; its delivery child not included);
- `server_rss_mb`: the server process's peak RSS (its delivery child not included).
Events are about 1.1 KB (as bench_ingest). `naive` is one event per request; `otlp` sends
OTLP/HTTP protobuf made by the OpenTelemetry SDK's own encoder, 100 GenAI spans per request.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import print_table, synthetic_texts

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = "bench"
WARMUP_REQUESTS = 5


def _texts(n: int) -> tuple[list[str], list[str]]:
    size = min(n, 5_000)
    prompts = synthetic_texts(size, seed=1, min_bytes=100, max_bytes=400, pii_rate=0.05)
    responses = synthetic_texts(size, seed=2, min_bytes=400, max_bytes=1400, pii_rate=0.1)
    return prompts, responses


def _event_bodies(batch: int, requests: int) -> list[bytes]:
    """JSON bodies of `batch` events (no event_id: every request makes new events)."""
    prompts, responses = _texts(batch * 4)
    bodies = []
    for r in range(min(requests, 4)):
        rows = [
            {
                "prompt": prompts[(r * batch + i) % len(prompts)],
                "response": responses[(r * batch + i * 7) % len(responses)],
                "user_id": f"user-{i % 500}",
                "model_version_id": "v1",
                "latency_ms": 120.0,
                "token_count": 300,
                "metadata": {"route": "chat", "ab": i % 2},
            }
            for i in range(batch)
        ]
        bodies.append(json.dumps(rows if batch > 1 else rows[0]).encode())
    return bodies


def _otlp_bodies(spans_per_request: int, requests: int) -> list[bytes]:
    """OTLP protobuf bodies made by the OpenTelemetry SDK's encoder; every span id distinct."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-app"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    prompts, responses = _texts(5_000)
    bodies = []
    for r in range(requests):
        for i in range(spans_per_request):
            k = (r * spans_per_request + i) % len(prompts)
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": prompts[k]}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": responses[k]}]}]
                ),
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 200,
                "user.id": f"user-{i % 500}",
            }
            tracer.start_span("chat gpt-4o", attributes=attributes).end()
        bodies.append(encode_spans(memory.get_finished_spans()).SerializeToString())
        memory.clear()
    provider.shutdown()
    return bodies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m feedback_assets.collector` on a fresh data dir, and a key for it."""

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-collector-"))
        self.url = f"sqlite:///{self.data_dir / 'feedback.db'}"
        self.port = _free_port()
        env = {
            **os.environ,
            "FEEDBACK_DATA_DIR": str(self.data_dir),
            "FEEDBACK_HASH_KEY": "bench-hash-key-0123456789",
            "FEEDBACK_COLLECTOR_DELIVERY": "process",
            "PYTHONPATH": str(ROOT),
        }
        cmd = [sys.executable, "-m", "feedback_assets.collector", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        from feedback_assets.store import FeedbackStore
        from feedback_assets.store.api_keys import ApiKeyStore

        self.store = FeedbackStore(self.url)
        self.key = ApiKeyStore(self.store).create(DEPLOYMENT)[1]
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/healthz").raise_for_status()
                break
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the collector did not start") from None
                time.sleep(0.1)

    def stored(self) -> int:
        return self.store.counts()["events"]

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (its delivery child not included)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.store.dispose()
        shutil.rmtree(self.data_dir, ignore_errors=True)


async def _send(
    base: str, path: str, headers: dict[str, str], bodies: list[bytes], requests: int, pool: int
) -> tuple[np.ndarray, float]:
    """`requests` POSTs over `pool` connections; (per-request seconds, elapsed seconds)."""
    latencies = np.empty(requests)
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        queue = iter(range(requests))

        async def worker() -> None:
            for i in queue:
                t0 = time.perf_counter()
                answer = await http.post(path, content=bodies[i % len(bodies)])
                latencies[i] = time.perf_counter() - t0
                if answer.status_code not in (200, 202):
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(pool)))
        return latencies, time.perf_counter() - start


def run_case(
    name: str, bodies: list[bytes], per_request: int, requests: int, pool: int, **how: Any
) -> dict[str, Any]:
    server = Server()
    try:
        path = "/v1/traces" if how.get("otlp") else "/v1/events"
        kind = "application/x-protobuf" if how.get("otlp") else "application/json"
        headers = {"Authorization": f"Bearer {server.key}", "Content-Type": kind}
        if how.get("gzip"):
            bodies = [gzip.compress(b, 1) for b in bodies]
            headers["Content-Encoding"] = "gzip"
        warm = asyncio.run(_send(server.base, path, headers, bodies[-1:], WARMUP_REQUESTS, 1))
        del warm  # imports, connections, the delivery worker: started before the clock
        before = per_request * WARMUP_REQUESTS if not how.get("otlp") else per_request
        while server.stored() < before:
            time.sleep(0.05)
        n = per_request * requests
        cpu = server.cpu_seconds()
        start = time.perf_counter()
        latencies, elapsed = asyncio.run(_send(server.base, path, headers, bodies, requests, pool))
        cpu = server.cpu_seconds() - cpu
        while server.stored() < before + n:
            time.sleep(0.02)
        stored_in = time.perf_counter() - start
        return {
            "case": name,
            "events": n,
            "per_request": per_request,
            "pool": pool,
            "accepted_events_s": n / elapsed,
            "stored_events_s": n / stored_in,
            "p50_ms": float(np.percentile(latencies, 50)) * 1000,
            "p99_ms": float(np.percentile(latencies, 99)) * 1000,
            "server_cpu_us_event": cpu / n * 1e6,
            "server_rss_mb": round(server.peak_rss_mb(), 1),
        }
    finally:
        server.close()


def main(quick: bool = False) -> None:
    scale = 10 if quick else 1
    rows = [
        run_case("naive: 1 event/request", _event_bodies(1, 4), 1, 4000 // scale, 8),
        run_case("json x100", _event_bodies(100, 4), 100, 1000 // scale, 8),
        run_case("json x500", _event_bodies(500, 4), 500, 200 // scale, 4),
        run_case("json x500 gzip", _event_bodies(500, 4), 500, 200 // scale, 4, gzip=True),
        run_case(
            "otlp protobuf x100 spans",
            _otlp_bodies(100, 200 // scale + 1),
            100,
            200 // scale,
            4,
            otlp=True,
        ),
    ]
    print_table(
        "collector over HTTP (SQLite store; server + delivery + client pool on this machine)", rows
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
