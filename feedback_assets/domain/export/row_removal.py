"""Find and remove one user's rows in an export file, whatever its format (erasure).

Each format has a scanner (which rows hold an erased event: a bool mask, one per row) and a
keeper (write the file again with only the kept rows). Columnar files carry an `event_id`
column. JSON-lines files carry text only, so each gets a sidecar index written beside it,
`<file>.ids.jsonl`: line i lists the event ids row i was made from (two for a DPO pair). A
JSON-lines file from before the index existed is matched by text instead: a row goes when any
of its strings is exactly one of the user's texts (that may also take an identical row of
another user, which errs on the side of removal).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from feedback_assets.domain.export.files import CHUNK_ROWS, open_binary
from feedback_assets.domain.export.formats_columnar import (
    CURATED_SCHEMA,
    PARQUET_SCHEMA,
    hf_dataset_dict,
    hf_features,
    save_hf_dataset,
)

INDEX_SUFFIX = ".ids.jsonl"


@dataclass(frozen=True)
class Erasure:
    """What to remove: the user's event ids, and their texts for files without an index."""

    event_ids: frozenset[str]
    texts: frozenset[str] = frozenset()


# ---------------------------------------------------------------- the sidecar index


def write_index(df: pd.DataFrame, columns: Sequence[str], path: str) -> int:
    """One `{"ids": [...]}` line per row of `df`, in row order (nulls left out)."""
    frame = pl.from_pandas(df[list(columns)].astype(object), nan_to_null=True)
    ids = frame.select(
        pl.concat_list([pl.col(c).cast(pl.String) for c in columns]).list.drop_nulls().alias("ids")
    )
    with open_binary(path, "wb") as f:
        ids.write_ndjson(f)
    return ids.height


def read_index(path: str) -> pl.Series:
    """The index's `ids` column: one list of event ids per row."""
    with open_binary(path, "rb") as f:
        data = f.read()
    if not data.strip():
        return pl.Series("ids", [], dtype=pl.List(pl.String))
    frame = pl.read_ndjson(data, schema={"ids": pl.List(pl.String)})
    return frame.get_column("ids")


def _in(values: pa.ChunkedArray | pa.Array, erasure: Erasure) -> np.ndarray:
    if not erasure.event_ids:
        return np.zeros(len(values), dtype=bool)
    hit = pc.is_in(values, value_set=pa.array(sorted(erasure.event_ids), pa.string()))
    return np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


# ---------------------------------------------------------------- JSON lines


def _lines(path: str) -> Iterator[bytes]:
    with open_binary(path, "rb") as f:
        yield from (line for line in f if line.strip())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def scan_lines(path: str, index_path: str | None, erasure: Erasure) -> np.ndarray:
    """Rows to drop: by the sidecar index, or (no index) by exact text."""
    if index_path is not None:
        ids = read_index(index_path)
        drop = ids.list.eval(pl.element().is_in(sorted(erasure.event_ids))).list.any()
        mask = drop.fill_null(False).to_numpy().astype(bool)
        rows = sum(1 for _ in _lines(path))
        if rows != len(mask):
            raise ValueError(f"{path}: {rows} rows but its index lists {len(mask)}")
        return mask
    texts = erasure.texts  # legacy file: one parse per line, only on this fallback path
    return np.array(
        [any(s in texts for s in _strings(orjson.loads(line))) for line in _lines(path)],
        dtype=bool,
    )


def keep_lines(src: str, dest: str, keep: np.ndarray) -> dict[str, Any]:
    """The kept lines byte for byte (no row is re-encoded)."""
    with open_binary(dest, "wb") as out:
        out.writelines(itertools.compress(_lines(src), keep.tolist()))
    return {"rows": int(keep.sum())}


# ---------------------------------------------------------------- Parquet


def scan_parquet(path: str, index_path: str | None, erasure: Erasure) -> np.ndarray:
    fs, p = fsspec.core.url_to_fs(path)
    return _in(pq.read_table(p, columns=["event_id"], filesystem=fs).column(0), erasure)


def keep_parquet(src: str, dest: str, keep: np.ndarray) -> dict[str, Any]:
    start = 0
    with (
        open_binary(src, "rb") as f,
        open_binary(dest, "wb") as out,
        pq.ParquetWriter(out, PARQUET_SCHEMA, compression="snappy") as w,
    ):
        for batch in pq.ParquetFile(f).iter_batches(batch_size=CHUNK_ROWS):
            mask = pa.array(keep[start : start + batch.num_rows])
            start += batch.num_rows
            w.write_batch(batch.filter(mask).cast(PARQUET_SCHEMA))
    return {"rows": int(keep.sum())}


# ---------------------------------------------------------------- CSV


def _read_csv(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    # Typed as written: an id of digits stays a string, null stays null, "" stays "".
    types = {f.name: f.type for f in CURATED_SCHEMA}
    convert = pacsv.ConvertOptions(
        column_types=types,
        include_columns=list(columns) if columns else None,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    with open_binary(path, "rb") as f:
        return pacsv.read_csv(
            f,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )


def scan_csv(path: str, index_path: str | None, erasure: Erasure) -> np.ndarray:
    return _in(_read_csv(path, ["event_id"]).column(0), erasure)


def keep_csv(src: str, dest: str, keep: np.ndarray) -> dict[str, Any]:
    table = _read_csv(src).filter(pa.array(keep)).cast(CURATED_SCHEMA)
    with open_binary(dest, "wb") as f, pacsv.CSVWriter(f, CURATED_SCHEMA) as w:
        w.write_table(table)
    return {"rows": table.num_rows}


# ---------------------------------------------------------------- HF dataset


def scan_hf_dataset(path: str, index_path: str | None, erasure: Erasure) -> np.ndarray:
    """One mask over the splits in their stored order."""
    dd = hf_dataset_dict(path)
    masks = [_in(ds.data.table.column("event_id"), erasure) for ds in dd.values()]
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def keep_hf_dataset(src: str, dest: str, keep: np.ndarray) -> dict[str, Any]:
    """Each split filtered into a scratch Arrow file, then saved as a new DatasetDict."""
    from datasets import Dataset, DatasetDict, DatasetInfo

    dd = hf_dataset_dict(src)
    scratch = tempfile.mkdtemp(prefix="hf_erase_")
    try:
        start, parts = 0, {}
        for name, ds in dd.items():
            table = ds.data.table
            mask = pa.array(keep[start : start + table.num_rows])
            start += table.num_rows
            path = os.path.join(scratch, f"{name}.arrow")
            with pa.ipc.new_stream(path, CURATED_SCHEMA) as w:
                w.write_table(table.filter(mask).cast(CURATED_SCHEMA))
            parts[name] = path
        info = DatasetInfo(features=hf_features())
        new = DatasetDict({s: Dataset.from_file(p, info=info, split=s) for s, p in parts.items()})
        save_hf_dataset(new, dest)
        splits = {s: new[s].num_rows for s in new}
        del new, dd
        return {"rows": sum(splits.values()), "splits": splits}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
