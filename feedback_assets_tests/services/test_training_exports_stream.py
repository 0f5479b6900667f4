"""training_exports streamed from a real store: every chunk size gives the same files, and the
SQL-selected part of the day mines exactly the pairs and KTO rows the whole day gives."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
from datasets import load_from_disk

from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.export import export_batch, file_path
from feedback_assets.domain.export.formats_columnar import CSV_COLUMNS
from feedback_assets.domain.export.registry import format_names
from feedback_assets.domain.export.training_exports import training_frames
from feedback_assets.services.training_exports import export_partition
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import train_prompt_keys
from feedback_assets.store.exports import preference_window
from feedback_assets_tests.defs.conftest import DAYS, ingest, run_loop_day

DAY, DEP = DAYS[1], "support-bot"
CHUNKS = (1, 2, 7, 1_000_000)  # 1 and 2 split every day; 7 splits it unevenly; huge: one chunk


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeedbackStore]:
    """One day of the demo loop run once per backend (up to curated_sets and its export)."""
    env = tmp_path_factory.mktemp(f"loop-{request.param}")
    pg_name = f"t_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{env / 'data' / 'feedback.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(pg_name)
    with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
        mp.setenv("FEEDBACK_DATA_DIR", str(env / "data"))
        mp.setenv("FEEDBACK_EXPORT_ROOT", str(env / "exports"))
        mp.delenv("FEEDBACK_STORE_URL", raising=False)
        ingest(url, env / "data")
        [result] = run_loop_day(url, env, instance, DAY, deployments=[DEP]).values()
        assert result.success
    s = FeedbackStore(url)
    yield s
    s.dispose()
    if request.param == "postgresql":
        request.getfixturevalue("postgres").drop_database(pg_name)


def _bytes(manifest: dict) -> dict[str, tuple]:
    return {
        fmt: (info["rows"], info["sha256"], info["bytes"], (info.get("index") or {}).get("sha256"))
        for fmt, info in manifest["files"].items()
    }


def test_every_chunk_size_writes_the_same_files(store: FeedbackStore, tmp_path: Path) -> None:
    runs = {}
    for n in CHUNKS:
        manifest, problems = export_partition(
            store, str(tmp_path / f"c{n}"), DAY, DEP, list(format_names()), chunk_rows=n
        )
        assert manifest is not None and problems == [], (n, problems)
        runs[n] = manifest
    first = _bytes(runs[CHUNKS[0]])
    assert set(first) == set(format_names())
    assert first["parquet"][0] > 7  # chunks of 1, 2 and 7 really split the day's rows
    for n in CHUNKS[1:]:
        assert _bytes(runs[n]) == first, n
        assert runs[n]["counts"] == runs[CHUNKS[0]]["counts"], n


def test_streamed_files_hold_the_partitions_sft_rows(store: FeedbackStore, tmp_path: Path) -> None:
    root = str(tmp_path / "x")
    manifest, problems = export_partition(store, root, DAY, DEP, list(format_names()), chunk_rows=3)
    assert manifest is not None and problems == []
    curated = store.read_table("curated_examples", partition_key=DAY, deployment_id=DEP)
    sft = curated[curated["role"] == "sft"].sort_values("event_id").reset_index(drop=True)
    assert 0 < len(sft) < len(curated)  # other roles exist and stay out of SFT files
    parquet = pq.read_table(file_path(manifest, root, "parquet")).to_pandas()
    assert parquet["event_id"].tolist() == sft["event_id"].tolist()
    assert parquet["response"].tolist() == sft["response"].tolist()
    assert set(parquet["export_batch_id"]) == {manifest["batch_id"]}
    dd = load_from_disk(file_path(manifest, root, "hf_dataset"))
    assert {s: dd[s].num_rows for s in dd} == manifest["files"]["hf_dataset"]["splits"]
    hf_ids = sorted(e for split in dd.values() for e in split["event_id"])
    assert hf_ids == sorted(sft["event_id"])
    csv = pd.read_csv(file_path(manifest, root, "csv"))
    assert (
        tuple(csv.columns) == CSV_COLUMNS and csv["event_id"].tolist() == sft["event_id"].tolist()
    )
    marked = store.read_table("export_marks", export_batch_id=manifest["batch_id"])
    assert sorted(marked["event_id"]) == sorted(sft["event_id"])


def test_pushdown_mines_what_the_whole_day_mines(store: FeedbackStore, tmp_path: Path) -> None:
    where = {"partition_key": DAY, "deployment_id": DEP}
    day = Window(
        store.read_table("sanitized_logs", order_by=["timestamp_us", "event_id"], **where),
        store.read_table("quality_scores", **where),
        store.read_table("sanitized_signals", order_by=["timestamp_us", "signal_id"], **where),
    )
    part = preference_window(store, DAY, DEP, 0.5)
    assert 0 < len(part.events) < len(day.events)  # the rest of the day stays in the database
    curated = store.read_table("curated_examples", **where)
    keys = train_prompt_keys(store, DEP)
    expected = training_frames(curated, day, keys, 0.5)
    assert len(expected["preference"]) > 0 and len(expected["kto"]) > 0
    pair_formats = ["dpo_trl", "dpo_openai", "kto"]
    want = export_batch(
        {r: expected[r] for r in ("preference", "kto")},
        str(tmp_path / "whole"),
        "support-bot_" + DAY,
        formats=pair_formats,
    )
    got, problems = export_partition(store, str(tmp_path / "pushed"), DAY, DEP, pair_formats)
    assert got is not None and problems == []
    assert _bytes(got) == _bytes(want)
    assert set(got["counts"]) == {"preference_pairs", "kto"}  # no sft rows were read


def test_sft_only_formats_do_not_mine_the_day(store: FeedbackStore, tmp_path: Path) -> None:
    manifest, problems = export_partition(store, str(tmp_path), DAY, DEP, ["parquet", "jsonl"])
    assert manifest is not None and problems == []
    assert "kto" not in manifest["counts"] and "preference_pairs" not in manifest["counts"]
    assert manifest["counts"]["curated"] == manifest["files"]["parquet"]["rows"] > 0
