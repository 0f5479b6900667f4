"""Columnar formats: writer, loader and merge for Parquet, CSV and the HF dataset directory.

All three carry the curated schema declared here. Writers stream bounded chunks; merges copy
record batches or bytes from the source files, never recomputing rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from feedback_assets.domain.export.files import CHUNK_ROWS, chunks, concat_files, open_binary

CURATED_SCHEMA = pa.schema(
    [
        pa.field("prompt", pa.string()),
        pa.field("response", pa.string()),
        pa.field("original_response", pa.string()),
        pa.field("event_id", pa.string()),
        pa.field("deployment_id", pa.string()),
        pa.field("model_version_id", pa.string()),
        pa.field("curation_source", pa.string()),
        pa.field("curation_score", pa.float64()),
        pa.field("quality_score", pa.float64()),
        pa.field("signal_score", pa.float64()),
        pa.field("role", pa.string()),  # always "sft": export_batch refuses any other row
    ]
)
# Each row names the batch it was exported in, so a merged file keeps per-row lineage.
PARQUET_SCHEMA = CURATED_SCHEMA.append(pa.field("export_batch_id", pa.string()))
CSV_COLUMNS: tuple[str, ...] = tuple(CURATED_SCHEMA.names)


def _arrow(chunk: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    cols = {}
    for field in schema:
        if field.name in chunk.columns:
            # from_pandas maps NaN/None to null; Arrow-backed string columns convert cheaply.
            cols[field.name] = pa.Array.from_pandas(chunk[field.name], type=field.type)
        else:
            cols[field.name] = pa.nulls(len(chunk), field.type)
    return pa.table(cols, schema=schema)


# ---------------------------------------------------------------- Parquet


def write_parquet(df: pd.DataFrame, path: str, batch_id: str) -> int:
    """Real Parquet (the original wrote JSONL under a .parquet name), explicit schema."""
    rows = 0
    with (
        open_binary(path, "wb") as f,
        pq.ParquetWriter(f, PARQUET_SCHEMA, compression="snappy") as w,
    ):
        for chunk in chunks(df):
            w.write_table(_arrow(chunk.assign(export_batch_id=batch_id), PARQUET_SCHEMA))
            rows += len(chunk)
    return rows


def load_parquet(path: str, batch_ids: frozenset[str]) -> tuple[int, list[str]]:
    fs, p = fsspec.core.url_to_fs(path)
    schema = pq.read_schema(p, filesystem=fs).remove_metadata()
    errs = [] if schema.equals(PARQUET_SCHEMA) else [f"schema differs: {schema}"]
    ids = pq.read_table(p, columns=["export_batch_id"], filesystem=fs).column(0)
    if ids.null_count or not set(ids.unique().to_pylist()) <= batch_ids:
        errs.append(f"export_batch_id is not one of {sorted(batch_ids)}")
    return len(ids), errs


def merge_parquet(sources: Sequence[str], dest: str) -> None:
    """Copies record batches: rows keep the export_batch_id of the batch they came from."""
    with (
        open_binary(dest, "wb") as out,
        pq.ParquetWriter(out, PARQUET_SCHEMA, compression="snappy") as w,
    ):
        for src in sources:
            with open_binary(src, "rb") as f:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=CHUNK_ROWS):
                    w.write_batch(batch.cast(PARQUET_SCHEMA))


# ---------------------------------------------------------------- CSV


def write_csv(df: pd.DataFrame, path: str) -> int:
    rows = 0
    with open_binary(path, "wb") as f, pacsv.CSVWriter(f, CURATED_SCHEMA) as w:
        for chunk in chunks(df):
            w.write_table(_arrow(chunk, CURATED_SCHEMA))
            rows += len(chunk)
    return rows


def load_csv(path: str, batch_ids: frozenset[str]) -> tuple[int, list[str]]:
    with open_binary(path, "rb") as f:
        # Answers hold newlines (code, lists); the writer quotes them.
        table = pacsv.read_csv(f, parse_options=pacsv.ParseOptions(newlines_in_values=True))
    errs = [] if tuple(table.column_names) == CSV_COLUMNS else ["csv header differs"]
    return table.num_rows, errs


def merge_csv(sources: Sequence[str], dest: str) -> None:
    """Byte concatenation keeping one header; the writer always writes the same header line."""
    headers = set()
    for src in sources:
        with open_binary(src, "rb") as f:
            headers.add(f.readline())
    if len(headers) > 1:
        raise ValueError(f"csv: sources have {len(headers)} different headers; cannot merge")
    concat_files(sources, dest, skip_first_line=True)


# ---------------------------------------------------------------- HF dataset


def hf_features() -> Any:
    from datasets import Features

    return Features.from_arrow_schema(CURATED_SCHEMA)


def write_hf_dataset(
    df: pd.DataFrame, path: str, test_size: float = 0.1, seed: int = 0
) -> dict[str, int]:
    """`save_to_disk` of a DatasetDict(train, test) with declared features.

    Rows stream into Arrow files in a scratch dir, which datasets memory-maps; from_pandas of the
    whole frame would hold several copies in RAM (6 GB at 1M rows).
    """
    from datasets import Dataset, DatasetDict, DatasetInfo

    if not 0.0 <= test_size < 1.0:
        raise ValueError(f"test_size: must be in [0, 1), got {test_size}")
    n = len(df)
    n_test = int(round(n * test_size))
    is_test = np.zeros(n, dtype=bool)
    is_test[np.random.default_rng(seed).permutation(n)[:n_test]] = True
    scratch = tempfile.mkdtemp(prefix="hf_export_")
    try:
        files = {s: os.path.join(scratch, f"{s}.arrow") for s in ("train", "test")}
        writers = {s: pa.ipc.new_stream(p, CURATED_SCHEMA) for s, p in files.items()}
        for start in range(0, n, CHUNK_ROWS):
            table = _arrow(df.iloc[start : start + CHUNK_ROWS], CURATED_SCHEMA)
            mask = pa.array(is_test[start : start + CHUNK_ROWS])
            writers["test"].write_table(table.filter(mask))
            writers["train"].write_table(table.filter(pc.invert(mask)))
        for w in writers.values():
            w.close()
        info = DatasetInfo(features=hf_features())
        dd = DatasetDict({s: Dataset.from_file(p, info=info, split=s) for s, p in files.items()})
        save_hf_dataset(dd, path)
        counts = {s: dd[s].num_rows for s in dd}
        del dd
        return counts
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_MAX_SHARD_BYTES = 500_000_000  # datasets' default max_shard_size


def save_hf_dataset(dd: Any, path: str) -> None:
    """save_to_disk, but an empty split gets one (empty) shard: with none, datasets cannot load
    the directory back (load_from_disk raises IndexError in datasets 5.2)."""
    shards = {
        name: max(1, min(ds.num_rows, int(ds.data.nbytes / _MAX_SHARD_BYTES) + 1))
        for name, ds in dd.items()
    }
    dd.save_to_disk(path, num_shards=shards)


def hf_dataset_dict(path: str) -> Any:
    """The DatasetDict saved at `path` (memory-mapped)."""
    from datasets import load_from_disk

    return load_from_disk(path)


def load_hf_dataset(path: str, batch_ids: frozenset[str]) -> tuple[int, list[str]]:
    dd = hf_dataset_dict(path)
    errs = [
        f"split {name}: features differ from the declared ones"
        for name, ds in dd.items()
        if ds.features != hf_features()
    ]
    return sum(ds.num_rows for ds in dd.values()), errs


def merge_hf_dataset(sources: Sequence[str], dest: str) -> None:
    """Each split is the concatenation of the sources' splits (memory-mapped, not recomputed)."""
    from datasets import DatasetDict, concatenate_datasets, load_from_disk

    parts = [load_from_disk(src) for src in sources]
    merged = {}
    for split in dict.fromkeys(name for dd in parts for name in dd):
        pieces = [dd[split] for dd in parts if split in dd]
        # An empty split is saved without Arrow tables, which concatenate_datasets rejects.
        rows = [ds for ds in pieces if ds.num_rows]
        merged[split] = concatenate_datasets(rows) if rows else pieces[0]
    save_hf_dataset(DatasetDict(merged), dest)
