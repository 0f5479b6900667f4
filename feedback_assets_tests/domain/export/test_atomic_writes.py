"""Export files are published atomically and never through a symlink, and batch ids are
injective: a concurrent reader never sees a partial file, a crash mid-write leaves the old file
and batch intact, links planted or flipped under the root cannot carry a write outside it, and
`team/a` and `team-a` get different batches."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import orjson
import pytest
from datasets import load_from_disk

from feedback_assets.domain.export.atomic import UnsafePath, write_atomic
from feedback_assets.domain.export.export import (
    MANIFEST_NAME,
    check_batch_id,
    export_batch,
    verify_export,
)
from feedback_assets.domain.export.training_exports import batch_id_for
from feedback_assets_tests.domain.export.test_export import curated

ROWS = 20_000
FORMATS = ["jsonl", "openai_chat", "csv"]
NAMES = ("curated.jsonl", "openai_chat.jsonl", "curated.csv")


def _rewrite(root: str, rounds: int) -> None:
    frame = curated(ROWS)
    for _ in range(rounds):
        export_batch({"sft": frame}, root, "b1", formats=FORMATS)


def _complete_lines(path: Path) -> int | None:
    """Lines in a line file, or None while it is missing; a partial file fails the assertion."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    assert data.endswith(b"\n"), f"{path.name}: {len(data)} bytes, cut mid-line"
    return data.count(b"\n")


def test_a_concurrent_reader_never_sees_a_partial_export(tmp_path: Path) -> None:
    root = str(tmp_path / "exports")
    _rewrite(root, 1)
    writer = mp.get_context("spawn").Process(target=_rewrite, args=(root, 4))
    writer.start()
    batch = tmp_path / "exports" / "b1"
    whole = {name: _complete_lines(batch / name) for name in NAMES}  # each file's full length
    seen = 0
    try:
        while writer.is_alive():
            for name in NAMES:
                rows = _complete_lines(batch / name)
                assert rows in (None, whole[name]), (name, rows, whole[name])
                seen += rows is not None
            manifest = tmp_path / "exports" / "b1" / MANIFEST_NAME
            if manifest.exists():  # a manifest, when present, is whole JSON
                with open(manifest, "rb") as f:
                    orjson.loads(f.read())
    finally:
        writer.join(timeout=300)
    assert writer.exitcode == 0
    assert seen > 10  # the reader really raced the writer
    final = orjson.loads((tmp_path / "exports" / "b1" / MANIFEST_NAME).read_bytes())
    assert verify_export(final, root) == []


def test_a_crash_mid_write_leaves_the_old_file_and_batch_intact(tmp_path: Path) -> None:
    root = str(tmp_path)
    manifest = export_batch({"sft": curated()}, root, "b1", formats=["jsonl", "hf_dataset"])
    before = {p: p.read_bytes() for p in (tmp_path / "b1").rglob("*") if p.is_file()}

    def crash_after_half(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(b'{"half": ')
        raise KeyboardInterrupt  # the process dies mid-write

    for name in ("curated.jsonl", "hf_dataset"):
        with pytest.raises(KeyboardInterrupt):
            write_atomic(root, f"b1/{name}", crash_after_half)
    after = {p: p.read_bytes() for p in (tmp_path / "b1").rglob("*") if p.is_file()}
    assert after == before  # no temp file left, nothing rewritten
    assert verify_export(manifest, root) == []


def test_an_hf_dataset_folder_is_replaced_whole(tmp_path: Path) -> None:
    root = str(tmp_path)
    export_batch({"sft": curated(40)}, root, "b1", formats=["hf_dataset"])
    stale = tmp_path / "b1" / "hf_dataset" / "stale.arrow"
    stale.write_bytes(b"left over")
    manifest = export_batch({"sft": curated(20)}, root, "b1", formats=["hf_dataset"])
    assert not stale.exists()
    assert sum(ds.num_rows for ds in load_from_disk(str(tmp_path / "b1" / "hf_dataset")).values())
    assert verify_export(manifest, root) == []
    assert sorted(p.name for p in (tmp_path / "b1").iterdir()) == ["hf_dataset", MANIFEST_NAME]


def test_a_symlink_planted_in_the_hf_folder_is_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "exports", tmp_path / "outside"
    outside.mkdir()
    export_batch({"sft": curated()}, str(root), "b1", formats=["hf_dataset"])
    train = root / "b1" / "hf_dataset" / "train"
    for p in train.iterdir():
        p.unlink()
    train.rmdir()
    train.symlink_to(outside, target_is_directory=True)
    manifest = export_batch({"sft": curated()}, str(root), "b1", formats=["hf_dataset"])
    assert list(outside.iterdir()) == []
    assert not train.is_symlink() and train.is_dir()
    assert verify_export(manifest, str(root)) == []


def test_a_symlinked_directory_under_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "exports", tmp_path / "outside"
    outside.mkdir()
    (root / "deep").mkdir(parents=True)
    (root / "deep" / "b1").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="deep/b1/x.jsonl"):
        write_atomic(str(root), "deep/b1/x.jsonl", lambda tmp: Path(tmp).write_text("x\n"))
    assert list(outside.iterdir()) == []


def test_a_directory_flipped_to_a_symlink_mid_write_cannot_leak(tmp_path: Path) -> None:
    root, outside = tmp_path / "exports", tmp_path / "outside"
    outside.mkdir()
    (root / "b1").mkdir(parents=True)

    def write_then_flip(tmp: str) -> int:
        Path(tmp).write_text("secret rows\n")
        # Between the check and the rename, b1 becomes a link to a directory outside the root.
        os.rename(root / "b1", root / "b1-moved")
        (root / "b1").symlink_to(outside, target_is_directory=True)
        return 1

    write_atomic(str(root), "b1/rows.jsonl", write_then_flip)
    assert list(outside.iterdir()) == []
    assert (root / "b1-moved" / "rows.jsonl").read_text() == "secret rows\n"


def test_a_directory_moved_outside_mid_write_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "exports", tmp_path / "outside"
    outside.mkdir()
    (root / "b1").mkdir(parents=True)

    def write_then_move_out(tmp: str) -> None:
        Path(tmp).write_text("rows\n")
        os.rename(root / "b1", outside / "b1")

    with pytest.raises(UnsafePath, match="moved outside"):
        write_atomic(str(root), "b1/rows.jsonl", write_then_move_out)
    assert list((outside / "b1").iterdir()) == []  # the temp file is cleaned up too


def test_batch_ids_are_injective() -> None:
    a, b = batch_id_for("team/a", "2026-11-01"), batch_id_for("team-a", "2026-11-01")
    assert a != b and b == "team-a_2026-11-01"  # plain ids keep their familiar form
    # '_' in the deployment could shift the split between deployment and suffix.
    assert batch_id_for("a_b", "c") != batch_id_for("a", "b_c")
    # Output paths that differ only in punctuation name different batches.
    assert batch_id_for("d", "team/a.jsonl") != batch_id_for("d", "team-a.jsonl")
    # Cut to 128 characters, long ids still differ.
    long = "x" * 200
    assert batch_id_for(long + "1", "s") != batch_id_for(long + "2", "s")
    for bid in (a, batch_id_for(long, "s"), batch_id_for("ü/ß", "2026-11-01")):
        assert check_batch_id(bid) == bid


def test_two_deployments_that_differed_only_in_punctuation_keep_both_batches(
    tmp_path: Path,
) -> None:
    root = str(tmp_path)
    for dep in ("team/a", "team-a"):
        frame = curated(5).assign(deployment_id=dep)
        export_batch({"sft": frame}, root, batch_id_for(dep, "2026-11-01"), formats=["jsonl"])
    assert len([p for p in tmp_path.iterdir() if (p / MANIFEST_NAME).exists()]) == 2
    for p in tmp_path.iterdir():
        assert verify_export(orjson.loads((p / MANIFEST_NAME).read_bytes()), root) == []
