"""Retraining bundles: merged from verified source batches, with lineage in the manifest."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pyarrow.parquet as pq  # noqa: E402

from feedback_assets.domain.export.bundle import BUNDLE_KIND, SourceBatch, build_bundle  # noqa: E402
from feedback_assets.domain.export.export import export_batch, verify_export  # noqa: E402
from feedback_assets.domain.export.registry import format_names  # noqa: E402
from feedback_assets_tests.domain.export.test_export import curated, frames  # noqa: E402


def _sources(root: str, sizes: dict[str, int]) -> list[SourceBatch]:
    out = []
    for batch_id, n in sizes.items():
        m = export_batch({**frames(), "sft": curated(n)}, root, batch_id)
        out.append(SourceBatch(batch_id, root, m, partition_key=batch_id))
    return out


def test_bundle_merges_every_format_and_names_its_sources(tmp_path: Path) -> None:
    root = str(tmp_path)
    sources = _sources(root, {"d1": 12, "d2": 7})
    m, problems = build_bundle(sources, root, "bundle-1", retraining_run_id="run-1")
    assert problems == [] and m is not None
    assert m["kind"] == BUNDLE_KIND and m["source_batch_ids"] == ["d1", "d2"]
    assert set(m["files"]) == set(format_names())
    assert m["counts"]["curated"] == 19 and m["files"]["csv"]["rows"] == 19
    merged = (tmp_path / "bundle-1" / "openai_chat.jsonl").read_bytes()
    parts = [(tmp_path / b / "openai_chat.jsonl").read_bytes() for b in ("d1", "d2")]
    assert merged == b"".join(parts)
    lineage = {s["batch_id"]: s for s in m["source_batches"]}
    assert (
        lineage["d2"]["files"]["jsonl"]["sha256"] == sources[1].manifest["files"]["jsonl"]["sha256"]
    )
    ids = pq.read_table(tmp_path / "bundle-1" / "curated.parquet").column("export_batch_id")
    assert ids.to_pylist() == ["d1"] * 12 + ["d2"] * 7  # each row keeps its source batch
    on_disk = json.loads((tmp_path / "bundle-1" / "manifest.json").read_text())
    assert on_disk["source_batch_ids"] == ["d1", "d2"]
    assert verify_export(m, root) == []


def test_tampered_or_missing_source_fails_before_writing(tmp_path: Path) -> None:
    root = str(tmp_path)
    sources = _sources(root, {"d1": 12, "d2": 12})
    chat = tmp_path / "d2" / "openai_chat.jsonl"
    chat.write_bytes(chat.read_bytes().replace(b"answer 3", b"answer X"))
    (tmp_path / "d1" / "curated.csv").unlink()
    m, problems = build_bundle(sources, root, "bundle-2", retraining_run_id="run-2")
    assert m is None and not (tmp_path / "bundle-2").exists()
    assert any(
        "d2: openai_chat file" in p and "changed since it was exported" in p for p in problems
    )
    assert any("d1: csv file" in p and "is missing" in p for p in problems)


def test_only_formats_every_source_has_are_merged(tmp_path: Path) -> None:
    root = str(tmp_path)
    a = export_batch(frames(), root, "a", formats=["jsonl", "openai_chat", "kto"])
    b = export_batch(frames(), root, "b", formats=["openai_chat", "kto"])
    m, problems = build_bundle(
        [SourceBatch("a", root, a), SourceBatch("b", root, b)], root, "bb", retraining_run_id="r"
    )
    assert problems == [] and m is not None and list(m["files"]) == ["openai_chat", "kto"]


def test_too_few_chat_examples_is_a_problem_of_the_bundle(tmp_path: Path) -> None:
    root = str(tmp_path)
    m, problems = build_bundle(_sources(root, {"s": 4}), root, "small", retraining_run_id="r")
    assert m is not None
    assert problems == ["openai_chat: 4 examples, a trainer needs at least 10"]
