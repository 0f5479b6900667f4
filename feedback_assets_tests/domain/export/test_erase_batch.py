"""Erasure in export batches: every format loses exactly the user's rows, as a new version."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import orjson  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402

from feedback_assets.domain.export.bundle import SourceBatch, build_bundle  # noqa: E402
from feedback_assets.domain.export.erase_batch import (  # noqa: E402
    rewrite_batch,
    rows_to_remove,
    tombstone_batch,
)
from feedback_assets.domain.export.export import (  # noqa: E402
    MANIFEST_NAME,
    export_batch,
    file_path,
    index_path,
    verify_export,
)
from feedback_assets.domain.export.registry import FORMATS, ExportFormat  # noqa: E402
from feedback_assets.domain.export.row_removal import Erasure, read_index  # noqa: E402
from feedback_assets_tests.domain.export.test_export import curated, kto, pairs  # noqa: E402

SAMPLES = {"sft": curated, "preference": pairs, "kto": kto}
# e3 is an sft row; "b" is the chosen side of pair 2 and KTO row 2.
ERASED = Erasure(frozenset({"e3", "b"}))
REMOVED = {"sft": 1, "preference": 1, "kto": 1}
AT = datetime(2026, 12, 1, tzinfo=UTC)


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.mark.parametrize("spec", FORMATS, ids=lambda f: f.name)
def test_every_format_loses_exactly_the_erased_rows(spec: ExportFormat, tmp_path: Path) -> None:
    rows = SAMPLES[spec.role]()
    root = str(tmp_path)
    m = export_batch({spec.role: rows}, root, "b1", formats=[spec.name])
    # A format without an id column lists each row's event ids in its sidecar index.
    index = index_path(m, root, spec.name)
    assert (index is None) == (spec.id_column is not None)
    drops = rows_to_remove(m, root, ERASED)
    assert {k: int(v.sum()) for k, v in drops.items()} == {spec.name: REMOVED[spec.role]}

    new = rewrite_batch(m, root, drops, at=AT)
    assert new["version"] == 2 and new["rewritten_because"] == "erasure"
    [entry] = new["history"]
    assert (
        entry["rows_removed"] == {spec.name: REMOVED[spec.role]} and entry["at"] == AT.isoformat()
    )
    assert new["files"][spec.name]["rows"] == len(rows) - REMOVED[spec.role]
    assert verify_export(new, root) == []  # checksums, rows and index all match again
    on_disk = orjson.loads((tmp_path / "b1" / MANIFEST_NAME).read_bytes())
    assert on_disk == orjson.loads(orjson.dumps(new))
    assert rows_to_remove(new, root, ERASED) == {}  # nothing of the user is left
    if spec.role == "sft":
        assert b"answer 3 " not in _all_bytes(tmp_path) or spec.name == "parquet"
        assert "answer 4 — ünïcode".encode() in _all_bytes(tmp_path) or spec.name == "parquet"
    if spec.name == "parquet":  # compressed pages: read the text column instead of grepping
        answers = pq.read_table(file_path(new, root, spec.name)).column("response").to_pylist()
        assert "answer 3 — ünïcode" not in answers and "answer 4 — ünïcode" in answers


def test_a_file_without_an_index_is_matched_by_the_users_texts(tmp_path: Path) -> None:
    root = str(tmp_path)
    m = export_batch({"sft": curated(), "kto": kto()}, root, "old", formats=["jsonl", "kto"])
    for fmt in ("jsonl", "kto"):  # a batch written before indexes existed
        Path(index_path(m, root, fmt) or "").unlink()
        del m["files"][fmt]["index"]
    texts = Erasure(frozenset({"e3"}), frozenset({"answer 3 — ünïcode", "c2"}))
    drops = rows_to_remove(m, root, texts)
    assert {k: int(v.sum()) for k, v in drops.items()} == {"jsonl": 1, "kto": 1}
    new = rewrite_batch(m, root, drops, at=AT)
    assert verify_export(new, root) == []
    assert "answer 3 — ünïcode".encode() not in _all_bytes(tmp_path)


def test_a_bundle_keeps_an_index_and_its_lineage_follows_the_rewritten_sources(
    tmp_path: Path,
) -> None:
    root = str(tmp_path)
    sources = [
        export_batch({"sft": curated(), "kto": kto()}, root, b, formats=["jsonl", "parquet", "kto"])
        for b in ("s1", "s2")
    ]
    bundle, problems = build_bundle(
        [SourceBatch(m["batch_id"], root, m) for m in sources],
        root,
        "bundle",
        retraining_run_id="r",
    )
    assert problems == [] and bundle is not None
    assert len(read_index(index_path(bundle, root, "kto") or "")) == 2 * len(kto())
    new_sources = {}
    for m in sources:
        new_sources[m["batch_id"]] = rewrite_batch(m, root, rows_to_remove(m, root, ERASED), at=AT)
    drops = rows_to_remove(bundle, root, ERASED)
    assert {k: int(v.sum()) for k, v in drops.items()} == {"jsonl": 2, "parquet": 2, "kto": 2}
    new = rewrite_batch(bundle, root, drops, at=AT, rewritten_sources=new_sources)
    assert verify_export(new, root) == []
    assert new["counts"]["curated"] == 2 * (len(curated()) - 1)
    for lineage in new["source_batches"]:
        source = new_sources[lineage["batch_id"]]
        assert lineage["version"] == 2
        assert lineage["files"]["jsonl"]["sha256"] == source["files"]["jsonl"]["sha256"]


def test_a_tombstoned_batch_keeps_no_file(tmp_path: Path) -> None:
    root = str(tmp_path)
    m = export_batch({"sft": curated()}, root, "t1", formats=["jsonl", "hf_dataset", "csv"])
    new = tombstone_batch(m, root, at=AT, why="unreadable file (ValueError)")
    assert new["tombstone"] is True and new["files"] == {} and new["version"] == 2
    assert [p.name for p in (tmp_path / "t1").iterdir()] == [MANIFEST_NAME]
    assert new["history"][-1]["tombstoned"] == "unreadable file (ValueError)"
