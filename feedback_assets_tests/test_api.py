"""The facade: the original library's functions on a store holding only ingested traffic."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from feedback_assets import api
from feedback_assets.demo.traffic import TrafficConfig
from feedback_assets_tests.defs.conftest import ingest

TRAFFIC = TrafficConfig(
    seed=5,
    days=3,
    end_date=date(2026, 10, 3),
    events_per_day=120,
    deployments=("bot",),
    drift_deployment="bot",
    drift_day=3,
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'data' / 'feedback.db'}"
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FEEDBACK_STORE_URL", url)
    monkeypatch.setenv("FEEDBACK_EXPORT_ROOT", str(tmp_path / "exports"))
    yield url
    if api._client is not None:
        api._client.close()
        api._client = None


def test_ingestion_facade_round_trip(env: str, tmp_path: Path) -> None:
    event_id = api.log_inference(
        deployment_id="deploy-1",
        model_version_id="model-1",
        user_id="user-123",
        prompt="What is 2+2?",
        response="4",
        latency_ms=120,
        token_count=42,
        metadata={"source": "api"},
    )
    api.record_signal(event_id, "thumbs_up", {"source": "ui"})
    api.record_user_edit(event_id, "The answer is 4.")
    assert api.flush()
    from feedback_assets.store import FeedbackStore

    store = FeedbackStore(env)
    [row] = store.read_events().to_dict("records")
    assert (
        row["event_id"] == event_id and row["user_id"] != "user-123" and len(row["user_id"]) == 64
    )
    assert sorted(store.read_signals()["signal_type"]) == ["edit", "thumbs_up"]


def test_quality_facade() -> None:
    result = api.assess_quality({"response": '{"ok": true, "answer": "four, as expected"}'})
    assert {c["check"] for c in result["checks"]} == {
        "format",
        "length",
        "refusal",
        "repetition",
        "empty",
    }
    assert 0 <= result["score"] <= 1
    refusal = api.assess_quality(
        {"response": "I'm sorry, but I can't help with that request at all."}
    )
    assert refusal["score"] < result["score"]


def test_analysis_facade_on_raw_traffic(env: str, tmp_path: Path) -> None:
    assert api.get_quality_stats("nobody") == {
        "deployment_id": "nobody",
        "n": 0,
        "status": "no data",
    }
    ingest(env, tmp_path / "data", TRAFFIC)
    stats = api.get_quality_stats("bot", window_size=100)
    assert stats["n"] == 100 and 0 < stats["mean"] <= 1

    report = api.detect_drift("bot", window_size=120)
    assert report.severity in ("none", "possible", "drift") and report.results
    assert isinstance(report.drifted, bool)
    history = api.get_drift_history("bot")
    assert len(history) == 1 and history[0]["source"] == "facade"

    curated = api.curate("bot", persist=True)
    assert {"event_id", "curation_source", "prompt", "response"} <= set(curated.columns)
    assert api.get_curated_count("bot") == len(curated) > 0

    # Only approved answers (role sft) are exported; hard examples (kto, preference) and the
    # held-out eval prompts never are. The facade uses the assets' frozen eval split.
    n_sft = int((curated["role"] == "sft").sum())
    assert 0 < n_sft < len(curated)
    assert set(curated["role"]) <= {"sft", "kto", "preference", "eval"}
    path = api.export("bot", format="jsonl", output_path="out/feedback.jsonl")
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert len(lines) == n_sft and set(lines[0]) == {"prompt", "response", "source", "score"}
    assert {line["source"] for line in lines} <= {"user_edit", "high_quality", "diverse"}
    from feedback_assets.store import FeedbackStore
    from feedback_assets.store.exports import curated_for

    flags = curated_for(FeedbackStore(env), "bot")
    exported = flags[flags["role"] == "sft"]
    assert exported["exported"].all() and exported["export_batch_id"].str.startswith("bot_").all()
    assert not flags.loc[flags["role"] != "sft", "exported"].any()
    again = api.export("bot", format="jsonl", output_path="out/feedback.jsonl")
    assert Path(again).read_text() == Path(path).read_text()  # same batch: idempotent
    fresh = api.export("bot", format="parquet", output_path="out/new.parquet")
    assert pq.read_table(fresh).num_rows == 0  # everything was already exported
    everything = api.export(
        "bot", format="parquet", output_path="out/all.parquet", include_exported=True
    )
    assert pq.read_table(everything).num_rows == n_sft
    assert set(pq.read_table(everything)["role"].to_pylist()) == {"sft"}
    edits = api.export(
        "bot",
        format="csv",
        output_path="out/edits.csv",
        filters={"curation_source": "user_edit"},
        include_exported=True,
    )
    assert Path(edits).read_text().count("\n") >= 1
    with pytest.raises(ValueError, match="escapes the export root"):
        api.export("bot", output_path="../../etc/passwd")
    with pytest.raises(ValueError, match="filters: unknown"):
        api.export("bot", filters={"colour": "red"})

    pairs = api.export_preference_pairs("bot", format="trl")
    rows = [json.loads(line) for line in Path(pairs).read_text().splitlines()]
    assert rows and all(
        set(r) >= {"prompt", "chosen", "rejected"} and r["chosen"] != r["rejected"] for r in rows
    )

    fired = api.check_triggers("bot", data_count_threshold=1, quality_threshold=0.0)
    types = {d.type for d in fired}
    assert "data_count" in types and "scheduled" in types and "quality_drop" not in types
    only = api.check_triggers("bot", trigger_types=["quality_drop"], quality_threshold=1.0)
    assert [d.type for d in only] == ["quality_drop"]
    with pytest.raises(ValueError, match="unknown trigger option"):
        api.check_triggers("bot", colour="red")


def test_export_facade_uses_the_registry_and_records_a_verified_batch(
    env: str, tmp_path: Path
) -> None:
    from datasets import load_from_disk

    from feedback_assets.domain.export.export import verify_export
    from feedback_assets.store import FeedbackStore

    ingest(env, tmp_path / "data", TRAFFIC)
    root = str(tmp_path / "exports")
    path = api.export("bot", format="openai", output_path="out/chat.jsonl")  # the original's name
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert rows and [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    [batch] = FeedbackStore(env).read_table("export_batches").to_dict("records")
    manifest = json.loads(batch["manifest"])
    assert batch["partition_key"] is None  # not a training_exports batch: retraining skips it
    assert manifest["files"]["openai_chat"]["path"] == "../out/chat.jsonl"
    assert manifest["files"]["openai_chat"]["rows"] == len(rows)
    assert verify_export(manifest, root) == []
    assert (tmp_path / "exports" / batch["export_batch_id"] / "manifest.json").exists()
    hf = api.export("bot", format="huggingface", include_exported=True)
    assert sum(ds.num_rows for ds in load_from_disk(hf).values()) == len(rows)
    dpo = api.export_preference_pairs("bot", format="openai")
    first = json.loads(Path(dpo).read_text().splitlines()[0])
    assert set(first) == {"input", "preferred_output", "non_preferred_output"}
    kto = api.export_preference_pairs("bot", format="kto")
    assert {"prompt", "completion", "label"} == set(
        json.loads(Path(kto).read_text().split("\n")[0])
    )
    with pytest.raises(ValueError, match=r"format: unknown export format 'xml'; valid: jsonl"):
        api.export("bot", format="xml")
    with pytest.raises(ValueError, match=r"format: unknown export format 'csv'; valid: dpo_trl"):
        api.export_preference_pairs("bot", format="csv")


def test_the_facade_reads_the_settings_the_assets_read(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(env, tmp_path / "data", TRAFFIC)
    plain = api.get_quality_stats("bot", window_size=100)
    assert plain["pass_rates"]["length"] > 0.5
    # Quality: quality_settings (FEEDBACK_QUALITY_*, expected formats) unless a keyword says otherwise.
    monkeypatch.setenv("FEEDBACK_QUALITY_MIN_LENGTH", "3999")
    monkeypatch.setenv("FEEDBACK_EXPECTED_FORMATS", "bot=json")
    strict = api.get_quality_stats("bot", window_size=100)
    assert strict["pass_rates"]["length"] < 0.05 and strict["mean"] < plain["mean"]
    assert strict["hard_fail_rate"] > plain["hard_fail_rate"]  # answers that are not JSON
    relaxed = api.get_quality_stats("bot", window_size=100, min_length=1)
    assert relaxed["pass_rates"]["length"] > 0.5
    answer = {"deployment_id": "bot", "response": "A plain answer that is not JSON at all."}
    judged = api.assess_quality(answer)
    assert judged["hard_fail_reasons"] == ["format"]
    assert api.assess_quality(answer, expected_format=None)["hard_fail"] is False
    with pytest.raises(ValueError, match=r"unknown quality option\(s\) \['colour'\]"):
        api.get_quality_stats("bot", colour="red")
    # Drift: drift_settings.min_samples decides when a window gets a verdict.
    monkeypatch.setenv("FEEDBACK_DRIFT_MIN_SAMPLES", "100000")
    assert api.detect_drift("bot", window_size=120).severity == "insufficient_data"
    assert api.detect_drift("bot", window_size=120, min_samples=50).severity != "insufficient_data"
    # Curation: curation_settings.limit bounds the training rows (held-out eval rows come on
    # top of it), and the keyword wins.
    monkeypatch.setenv("FEEDBACK_CURATION_LIMIT", "5")

    def training(curated: pd.DataFrame) -> int:
        return int((curated["role"] != "eval").sum())

    assert 0 < training(api.curate("bot", persist=False)) <= 5
    assert 5 < training(api.curate("bot", persist=False, limit=40)) <= 40
    # Triggers: trigger_settings' thresholds, through the registry's aliases.
    monkeypatch.setenv("FEEDBACK_QUALITY_THRESHOLD", "1.0")
    assert [d.type for d in api.check_triggers("bot", trigger_types=["accuracy"])] == [
        "quality_drop"
    ]
    assert api.check_triggers("bot", trigger_types=["accuracy"], quality_threshold=0.0) == []


def test_model_history_facade(env: str) -> None:
    from feedback_assets.store import FeedbackStore
    from feedback_assets.store.model_versions import decide, register_candidate

    api.log_inference(
        deployment_id="bot", model_version_id="bot-v1", prompt="hi there", response="hello!"
    )
    assert api.flush(30)
    assert api.get_model_history("bot") == []
    assert api.get_current_model("bot") == "bot-v1"  # before any retraining: the traffic's model
    store = FeedbackStore(env)
    register_candidate(store, "bot", "bot-ft-1", "bot-v1", "run-1")
    decide(store, "bot", "bot-ft-1", "rejected", ["significantly worse"], {"wins": 1, "losses": 9})
    history = api.get_model_history("bot")
    assert [(h["model_version_id"], h["status"]) for h in history] == [
        ("bot-v1", "promoted"),
        ("bot-ft-1", "rejected"),
    ]
    assert history[1]["parent_model_version_id"] == "bot-v1"
    assert history[1]["eval"] == {"wins": 1, "losses": 9}
    assert history[1]["reasons"] == ["significantly worse"] and history[1]["created_at"]
    assert api.get_current_model("bot") == "bot-v1"
