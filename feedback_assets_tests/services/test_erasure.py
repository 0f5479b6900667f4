"""forget_user end to end: real SDK traffic, the real asset chain and a retraining run, then no
byte of the user's text is left under the data dir, the export root or the store's dump."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from feedback_assets import api
from feedback_assets.client import FeedbackClient, Telemetry
from feedback_assets.definitions import defs
from feedback_assets.demo.traffic import generate_traffic
from feedback_assets.domain.export.bundle import SourceBatch, check_sources
from feedback_assets.domain.export.export import MANIFEST_NAME, verify_export
from feedback_assets.domain.pii.user_ids import hash_user_id
from feedback_assets.domain.quality.judge import RUBRIC_VERSION, cache_key
from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
from feedback_assets.resources.retraining_launcher import CommandLauncher
from feedback_assets.store import FeedbackStore
from feedback_assets.store.judge_cache import StoreJudgeCache
from feedback_assets_tests.defs.conftest import DAYS, TRAFFIC, resources_for, run_loop_day
from feedback_assets_tests.openai_server import OpenAICompatServer

MARK = b"quillfeather"
PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"


def _traffic() -> tuple[str, list[dict], list[dict]]:
    """Demo traffic where the busiest user's prompts, answers and edits say "Quillfeather"."""
    events, signals = generate_traffic(TRAFFIC)
    target = Counter(e.get("user_id") for e in events).most_common(1)[0][0]
    for e in events:
        if e.get("user_id") == target and "prompt" in e:
            e["prompt"] = f"{e['prompt']} (Quillfeather ledger)"
            if e["deployment_id"] != "json-extractor":  # its answers must stay JSON
                e["response"] = f"{e['response']} Quillfeather notes apply."
    for s in signals:
        if s.get("user_id") == target and s.get("edited_response"):
            s["edited_response"] += " Quillfeather revision."
    dead = {**events[0], "user_id": target, "prompt": "Quillfeather plan", "latency_ms": -1.0}
    return target, [*events, {**dead, "event_id": "dead-1"}], signals


def _ingest(url: str, data_dir: Path, events: list[dict], signals: list[dict]) -> None:
    with FeedbackClient(url, data_dir=data_dir, raise_on_invalid=False, telemetry=Telemetry()) as c:
        c.log_inferences(events)
        for s in signals:
            payload = dict(s)
            c.record_signal(
                payload.pop("event_id", None), payload.pop("signal_type", None), **payload
            )
        assert c.flush(60)


def _contains(table: pa.Table, needle: bytes) -> bool:
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            lowered = pc.utf8_lower(column)
            if pc.any(pc.match_substring(lowered, needle.decode())).as_py():
                return True
    return False


def _leaks(root: Path, needles: list[bytes]) -> list[str]:
    """Files whose bytes hold a needle (case-insensitive), or whose Parquet / Arrow text
    columns do (Parquet pages are compressed: their bytes alone prove nothing)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        hit = any(n in data for n in needles)
        if path.suffix == ".parquet":
            hit = hit or any(_contains(pq.read_table(path), n) for n in needles)
        elif path.suffix == ".arrow":
            with pa.ipc.open_stream(path) as reader:
                hit = hit or any(_contains(reader.read_all(), n) for n in needles)
        if hit:
            found.append(str(path.relative_to(root)))
    return found


def _pg_dump(url: str, postgres) -> bytes:
    db = urlparse(url).path.lstrip("/")
    out = subprocess.run(
        [PG_DUMP, "-h", "127.0.0.1", "-p", str(postgres.port), "-U", postgres.user, "-d", db],
        env={**os.environ, "PGPASSWORD": postgres.password},
        capture_output=True,
        check=True,
    )
    return out.stdout.lower()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest,
    loop_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{loop_env / 'data' / 'feedback.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("FEEDBACK_STORE_URL", url)
        yield url
    if api._client is not None:
        api._client.close()
        api._client = None


def _run_loop_and_retrain(url: str, env: Path, inst: dg.DagsterInstance, store) -> str:
    resources = resources_for(url, env)
    # Models live outside the data dir: a trained model is reported, never rewritten.
    resources["retraining_launcher"] = CommandLauncher(model_dir=str(env / "models"))
    for day in DAYS[:2]:
        assert all(
            r.success for r in run_loop_day(url, env, inst, day, resources=resources).values()
        )
    marks = store.read_table("export_marks")
    deployment = marks["deployment_id"].value_counts().index[0]
    # The gate's endpoint: both models answer alike, so the tie rule promotes the candidate.
    with OpenAICompatServer(chat_handler=lambda body: "Same helpful answer.") as models:
        resources["model_evaluator"] = ModelEvaluatorResource(
            base_url=models.base_url, api_key="sk-test", min_prompts=1
        )
        run = (
            defs()
            .resolve_job_def("retraining_job")
            .execute_in_process(partition_key=deployment, instance=inst, resources=resources)
        )
    assert run.success
    [row] = store.read_table("retraining_runs").to_dict("records")
    return str(row["run_id"])


def _seed_judge_cache(store: FeedbackStore, user_hash: str) -> tuple[str, str]:
    """One cached verdict on the user's answer, one on another user's."""
    logs = store.read_table("sanitized_logs")
    mine = logs[logs["user_id"] == user_hash].iloc[0]
    other = logs[logs["user_id"] != user_hash].iloc[0]
    keys = [cache_key(r["prompt"], r["response"], RUBRIC_VERSION, "judge-m") for r in (mine, other)]
    value = {"status": "ok", "score": 0.8, "model": "judge-m", "rubric_version": RUBRIC_VERSION}
    reasons = ["cites Quillfeather", "a fine answer"]  # a judge's reason may quote the answer
    StoreJudgeCache(store).put_many(
        {k: {**value, "reason": why} for k, why in zip(keys, reasons, strict=True)}
    )
    return keys[0], keys[1]


def test_forget_user_leaves_no_byte_of_the_user(
    backend: str,
    loop_env: Path,
    instance: dg.DagsterInstance,
    request: pytest.FixtureRequest,
) -> None:
    url, data_dir, exports = backend, loop_env / "data", loop_env / "exports"
    target, events, signals = _traffic()
    _ingest(url, data_dir, events, signals)
    store = FeedbackStore(url)
    user_hash = hash_user_id(target, os.environ["FEEDBACK_HASH_KEY"].encode())
    run_id = _run_loop_and_retrain(url, loop_env, instance, store)
    mine, theirs = _seed_judge_cache(store, user_hash)
    needles = [MARK, target.encode()]
    dump = (
        (lambda: _pg_dump(url, request.getfixturevalue("postgres")))
        if "postgresql" in url
        else None
    )
    # The user is everywhere before: the store, plain JSONL, compressed Parquet, the bundle.
    assert _leaks(exports, needles) and any(
        p.endswith(".parquet") for p in _leaks(exports, needles)
    )
    assert (MARK in dump()) if dump else _leaks(data_dir, needles)
    n_events = store.count("events", user_id=user_hash)
    others = len(store.read_table("events")) - n_events

    report = api.forget_user(target)

    assert report["rows"]["events"] == n_events and report["rows"]["dead_letters"] >= 1
    for table in (
        "signals",
        "sanitized_logs",
        "quality_scores",
        "curated_examples",
        "export_marks",
    ):
        assert report["rows"][table] > 0, table
    assert report["rows"]["judge_cache"] == 1
    assert report["sqlite_compaction"] == ("not needed (postgresql)" if dump else "vacuumed")
    assert [m["run_id"] for m in report["trained_models"]] == [run_id]
    assert report["export_batches"]["rewritten"] and not report["export_batches"]["tombstoned"]
    assert _leaks(exports, needles) == []
    assert _leaks(data_dir, needles) == []
    if dump:
        assert MARK not in dump() and target.encode() not in dump()
    # Everyone else is still there, and every batch loads back with its new checksums.
    assert len(store.read_table("events")) == others > 0
    assert StoreJudgeCache(store).get_many([mine, theirs]).keys() == {theirs}
    _check_batches(store, set(report["export_batches"]["rewritten"]))
    again = api.forget_user(target)
    assert sum(again["rows"].values()) == 0 and again["export_batches"]["rewritten"] == []
    logged = store.read_table("erasure_log", order_by=["created_us"])
    assert logged["user_hash"].tolist() == [user_hash, user_hash]
    assert (
        target not in "".join(logged["report"])
        and "quillfeather" not in "".join(logged["report"]).lower()
    )
    store.dispose()


def _check_batches(store: FeedbackStore, rewritten: set[str]) -> None:
    rows = store.read_table("export_batches").to_dict("records")
    sources = []
    for row in rows:
        manifest = json.loads(row["manifest"])
        assert verify_export(manifest, row["root"]) == [], row["export_batch_id"]
        on_disk = Path(row["root"]) / row["export_batch_id"] / MANIFEST_NAME
        assert json.loads(on_disk.read_text()) == manifest
        expected = 2 if row["export_batch_id"] in rewritten else 1
        assert manifest["version"] == expected, row["export_batch_id"]
        if expected == 2:
            assert manifest["history"][-1]["rewritten_because"] == "erasure"
        if manifest["kind"] == "export":
            sources.append(SourceBatch(row["export_batch_id"], row["root"], manifest))
    assert check_sources(sources) == []  # a later bundle accepts the rewritten batches


def test_spool_segments_a_dead_client_left_are_erased_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FEEDBACK_EXPORT_ROOT", str(tmp_path / "exports"))
    monkeypatch.delenv("FEEDBACK_STORE_URL", raising=False)
    with socket.socket() as s:  # a store nobody answers: the client keeps its segment
        s.bind(("127.0.0.1", 0))
        dead = f"postgresql://u:p@127.0.0.1:{s.getsockname()[1]}/db"
    client = FeedbackClient(dead, data_dir=data_dir, telemetry=Telemetry())
    client.log_inference(deployment_id="bot", prompt="Quillfeather?", response="yes", user_id="u-1")
    client.close(timeout=0.5)
    assert _leaks(data_dir / "spool", [MARK])  # undelivered, on disk

    report = api.forget_user("u-1")

    assert report["files"]["spool_segments_delivered"] == 1
    assert report["rows"]["events"] == 1
    assert _leaks(data_dir, [MARK, b"u-1"]) == []
