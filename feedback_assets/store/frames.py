"""DataFrame <-> DB row conversion, driven by the table definitions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import sqlalchemy as sa


def to_us(values: pd.Series) -> pd.Series:
    """tz-aware (or naive = UTC) datetimes -> int64 epoch microseconds."""
    ts = pd.to_datetime(values, utc=True)
    return ts.astype("datetime64[us, UTC]").astype("int64")


def from_us(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("int64"), unit="us", utc=True)


def _native(series: pd.Series) -> list[Any]:
    """Python-native values with None for missing (DBAPI drivers reject numpy scalars)."""
    if series.dtype == object:
        return series.where(series.notna(), None).tolist()
    values = series.to_numpy(dtype=object, na_value=None) if series.hasnans else series.tolist()
    return (
        [v.item() if isinstance(v, np.generic) else v for v in values] if series.hasnans else values
    )


def require_columns(table: sa.Table, present: Iterable[str]) -> None:
    """ValueError naming every NOT NULL column (other than the key) the frame lacks."""
    have = set(present)
    missing = [
        c.name for c in table.columns if c.name not in have and not c.nullable and not c.primary_key
    ]
    if missing:
        raise ValueError(f"{table.name}: missing required columns {missing}")


def rows_for_insert(
    table: sa.Table, frame: pd.DataFrame, ingested_us: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows for `table` from `frame`; derives *_us from datetimes, fills ingested_us."""
    frame = frame.copy(deep=False)
    if "timestamp_us" in table.c and "timestamp_us" not in frame and "timestamp" in frame:
        frame["timestamp_us"] = to_us(frame["timestamp"])
    if ingested_us is not None and "ingested_us" in table.c and "ingested_us" not in frame:
        frame["ingested_us"] = ingested_us
    columns = [c.name for c in table.columns if c.name in frame.columns]
    require_columns(table, frame.columns)
    data = [_native(frame[c]) for c in columns]
    return columns, list(zip(*data, strict=True))


def from_db_frame(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Typed frame: booleans as bool, *_us also exposed as tz-aware `timestamp` where present."""
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in frame.columns})
    for col in table.columns:
        if col.name in frame and isinstance(col.type, sa.Boolean):
            mask = frame[col.name].notna()
            if mask.all():
                frame[col.name] = frame[col.name].astype(bool)
            else:
                frame[col.name] = frame[col.name].map(lambda v: None if v is None else bool(v))
    if "timestamp_us" in frame:
        frame["timestamp"] = (
            from_us(frame["timestamp_us"]) if len(frame) else pd.Series(dtype="datetime64[us, UTC]")
        )
    return frame


_POLARS_TYPES: dict[type[Any], Any] = {
    sa.BigInteger: pl.Int64,
    sa.Integer: pl.Int64,
    sa.Float: pl.Float64,
    sa.Boolean: pl.Boolean,
    sa.Text: pl.Utf8,
    sa.String: pl.Utf8,
}

InsertFrame: TypeAlias = pd.DataFrame | pl.DataFrame | pa.Table


def _polars_type(column: sa.Column[Any]) -> Any:
    for sa_type, pl_type in _POLARS_TYPES.items():
        if isinstance(column.type, sa_type):
            return pl_type
    return pl.Utf8


def columns_for_insert(
    table: sa.Table, frame: InsertFrame, ingested_us: int | None = None
) -> pl.DataFrame:
    """`frame` as a polars frame holding `table`'s columns, typed for the bulk insert paths.

    Derives timestamp_us from a `timestamp` column and fills ingested_us, like rows_for_insert.
    """
    out: pl.DataFrame
    if isinstance(frame, pd.DataFrame):
        pdf: pd.DataFrame = frame
        if "timestamp_us" in table.c and "timestamp_us" not in pdf and "timestamp" in pdf:
            pdf = pdf.assign(timestamp_us=to_us(pdf["timestamp"]))
        out = pl.from_pandas(pdf[[c.name for c in table.columns if c.name in pdf.columns]])
    elif isinstance(frame, pa.Table):
        out = pl.DataFrame(frame)
    else:
        out = frame
    if "timestamp_us" in table.c and "timestamp_us" not in out.columns and "timestamp" in out:
        out = out.with_columns(
            timestamp_us=pl.col("timestamp").dt.replace_time_zone(None).dt.epoch("us")
        )
    if ingested_us is not None and "ingested_us" in table.c and "ingested_us" not in out:
        out = out.with_columns(ingested_us=pl.lit(ingested_us, dtype=pl.Int64))
    require_columns(table, out.columns)
    return out.select(
        pl.col(c.name).cast(_polars_type(c)) for c in table.columns if c.name in out.columns
    )
