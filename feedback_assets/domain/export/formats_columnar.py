"""Columnar formats: writer, loader and merge for Parquet, CSV and the HF dataset directory.

All three carry the curated schema declared here. Writers stream bounded chunks; merges copy
record batches or bytes from the source files, never recomputing rows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from feedback_assets.domain.export.files import CHUNK_ROWS, concat_files, drain, open_binary

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


ROW_GROUP_ROWS = 20_000  # Parquet row groups of a fixed size: the file does not depend on chunking


class _Regroup:
    """Arrow tables re-cut into batches of exactly `size` rows (the last one shorter): what a
    writer emits no longer depends on how the rows arrived, so the bytes do not either."""

    def __init__(self, size: int = ROW_GROUP_ROWS) -> None:
        self.size = size
        self._parts: list[pa.Table] = []
        self._rows = 0

    def push(self, table: pa.Table) -> list[pa.Table]:
        self._parts.append(table)
        self._rows += table.num_rows
        return self._cut(final=False) if self._rows >= self.size else []

    def flush(self) -> list[pa.Table]:
        return self._cut(final=True)

    def _cut(self, final: bool) -> list[pa.Table]:
        if not self._parts:
            return []
        table = pa.concat_tables(self._parts).combine_chunks()
        full = table.num_rows if final else table.num_rows - table.num_rows % self.size
        out = [table.slice(i, min(self.size, full - i)) for i in range(0, full, self.size)]
        rest = table.slice(full)
        self._parts, self._rows = ([rest] if rest.num_rows else []), rest.num_rows
        return out


class ParquetSink:
    """Real Parquet (the original wrote JSONL under a .parquet name), explicit schema, every
    row stamped with its batch id, row groups of a fixed size."""

    def __init__(self, path: str, batch_id: str) -> None:
        self.batch_id, self.rows = batch_id, 0
        self._f = open_binary(path, "wb")
        self._w = pq.ParquetWriter(self._f, PARQUET_SCHEMA, compression="snappy")
        self._groups = _Regroup()

    def write(self, chunk: pd.DataFrame) -> None:
        table = _arrow(chunk.assign(export_batch_id=self.batch_id), PARQUET_SCHEMA)
        self.rows += len(chunk)
        for group in self._groups.push(table):
            self._w.write_table(group)

    def close(self) -> tuple[int, dict[str, Any]]:
        for group in self._groups.flush():
            self._w.write_table(group)
        self._w.close()
        self._f.close()
        return self.rows, {}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._w.close()
        self._f.close()


def write_parquet(df: pd.DataFrame, path: str, batch_id: str) -> int:
    return drain(ParquetSink(path, batch_id), df)[0]


def load_parquet(path: str, batch_ids: frozenset[str]) -> tuple[int, list[str]]:
    """Schema and batch ids, read one record batch of the id column at a time."""
    rows, seen, nulls = 0, set(), 0
    with open_binary(path, "rb") as f:
        pf = pq.ParquetFile(f)
        schema = pf.schema_arrow.remove_metadata()
        errs = [] if schema.equals(PARQUET_SCHEMA) else [f"schema differs: {schema}"]
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS, columns=["export_batch_id"]):
            ids = batch.column(0)
            rows, nulls = rows + len(ids), nulls + ids.null_count
            seen.update(pc.unique(ids).drop_null().to_pylist())
    if nulls or not seen <= batch_ids:
        errs.append(f"export_batch_id is not one of {sorted(batch_ids)}")
    return rows, errs


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


class CsvSink:
    """CSV with the curated header; the writer quotes answers holding newlines."""

    def __init__(self, path: str) -> None:
        self.rows = 0
        self._f = open_binary(path, "wb")
        self._w = pacsv.CSVWriter(self._f, CURATED_SCHEMA)

    def write(self, chunk: pd.DataFrame) -> None:
        self._w.write_table(_arrow(chunk, CURATED_SCHEMA))
        self.rows += len(chunk)

    def close(self) -> tuple[int, dict[str, Any]]:
        self._w.close()
        self._f.close()
        return self.rows, {}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._w.close()
        self._f.close()


def write_csv(df: pd.DataFrame, path: str) -> int:
    return drain(CsvSink(path), df)[0]


def load_csv(path: str, batch_ids: frozenset[str]) -> tuple[int, list[str]]:
    """Header and row count, parsed block by block (answers hold newlines: quoted)."""
    parse = pacsv.ParseOptions(newlines_in_values=True)
    # Strings throughout: a streaming reader infers types from its first block only.
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in CSV_COLUMNS})
    rows = 0
    with open_binary(path, "rb") as f:
        reader = pacsv.open_csv(f, parse_options=parse, convert_options=convert)
        errs = [] if tuple(reader.schema.names) == CSV_COLUMNS else ["csv header differs"]
        for batch in reader:
            rows += batch.num_rows
    return rows, errs


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


class HfDatasetSink:
    """`save_to_disk` of a DatasetDict(train, test) with declared features.

    Rows stream into one Arrow file in a scratch dir, which datasets memory-maps; on close the
    seeded split (a permutation of the row count, as before) selects train and test rows from
    it. from_pandas of a whole frame would hold several copies in RAM (6 GB at 1M rows).
    """

    def __init__(self, path: str, test_size: float = 0.1, seed: int = 0) -> None:
        if not 0.0 <= test_size < 1.0:
            raise ValueError(f"test_size: must be in [0, 1), got {test_size}")
        self.path, self.test_size, self.seed, self.rows = path, test_size, seed, 0
        self._scratch = tempfile.mkdtemp(prefix="hf_export_")
        self._file = os.path.join(self._scratch, "rows.arrow")
        self._w = pa.ipc.new_stream(self._file, CURATED_SCHEMA)
        self._groups = _Regroup()

    def write(self, chunk: pd.DataFrame) -> None:
        for group in self._groups.push(_arrow(chunk, CURATED_SCHEMA)):
            self._w.write_table(group)
        self.rows += len(chunk)

    def close(self) -> tuple[int, dict[str, Any]]:
        from datasets import Dataset, DatasetDict, DatasetInfo

        try:
            for group in self._groups.flush():
                self._w.write_table(group)
            self._w.close()
            n = self.rows
            is_test = np.zeros(n, dtype=bool)
            n_test = int(round(n * self.test_size))
            is_test[np.random.default_rng(self.seed).permutation(n)[:n_test]] = True
            info = DatasetInfo(features=hf_features())
            rows = Dataset.from_file(self._file, info=info)
            dd = DatasetDict(
                {
                    s: rows.select(np.flatnonzero(mask))
                    for s, mask in (("train", ~is_test), ("test", is_test))
                }
            )
            save_hf_dataset(dd, self.path)
            counts = {s: dd[s].num_rows for s in dd}
            del dd, rows
            return sum(counts.values()), {"splits": counts}
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._w.close()
        shutil.rmtree(self._scratch, ignore_errors=True)


def write_hf_dataset(
    df: pd.DataFrame, path: str, test_size: float = 0.1, seed: int = 0
) -> dict[str, int]:
    splits: dict[str, int] = drain(HfDatasetSink(path, test_size, seed), df)[1]["splits"]
    return splits


_MAX_SHARD_BYTES = 500_000_000  # datasets' default max_shard_size


def save_hf_dataset(dd: Any, path: str) -> None:
    """save_to_disk, but an empty split gets one (empty) shard: with none, datasets cannot load
    the directory back (load_from_disk raises IndexError in datasets 5.2)."""
    shards = {
        name: max(1, min(ds.num_rows, int(_nbytes(ds) / _MAX_SHARD_BYTES) + 1))
        for name, ds in dd.items()
    }
    dd.save_to_disk(path, num_shards=shards)


def _nbytes(ds: Any) -> float:
    """The bytes of a dataset's own rows (a selection's table also holds the other rows)."""
    table_rows = ds.data.num_rows
    return float(ds.data.nbytes) * (ds.num_rows / table_rows if table_rows else 0.0)


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
