"""Helpers that turn frames and numbers into Dagster metadata the UI shows readably.

- Numbers stay numbers (so the UI plots them over partitions), rounded to 4 significant digits:
  0.5568, not 0.5567899187531089; a tiny p-value keeps its exponent (4.6e-26, never 0.000).
- Tables are `MetadataValue.table` with a typed schema; long text is cut.
- Lists of sentences are markdown bullet lists, one item per line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd

SIGNIFICANT = 4
CELL_WIDTH = 80


def num(value: float | int | None, digits: int = SIGNIFICANT) -> float | None:
    """`value` rounded to `digits` significant digits; None for None, NaN and infinities."""
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    if v == 0.0:
        return 0.0
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))


def _column_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "string"


def _cell(value: object, kind: str, width: int) -> str | int | float | bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "float":
        return num(float(value))  # type: ignore[arg-type]
    if kind == "int":
        return int(value)  # type: ignore[call-overload]
    if kind == "bool":
        return bool(value)
    text = str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def preview(
    frame: pd.DataFrame, columns: Sequence[str], rows: int = 5, width: int = CELL_WIDTH
) -> dg.TableMetadataValue:
    """The first `rows` rows of `columns` as a typed table; numbers rounded, long text cut."""
    shown = frame.loc[:, [c for c in columns if c in frame]].head(rows)
    schema = [dg.TableColumn(c, _column_type(shown[c])) for c in shown.columns]
    records = [
        dg.TableRecord(
            {col.name: _cell(v, col.type, width) for col, v in zip(schema, row, strict=True)}
        )
        for row in shown.itertuples(index=False)
    ]
    return dg.MetadataValue.table(records, dg.TableSchema(columns=schema))


def counts_table(counts: Mapping[str, int], key: str) -> dg.TableMetadataValue:
    """{value: count} as a two-column table, largest first."""
    frame = pd.DataFrame(
        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), columns=[key, "count"]
    ).astype({key: "string", "count": "int64"})
    return preview(frame, [key, "count"], rows=len(frame))


def bullets(items: Iterable[str], empty: str = "_none_", limit: int = 8) -> dg.MetadataValue:
    """Markdown bullet list, one item per line."""
    lines = [f"- {str(item).strip()}" for item in list(items)[:limit]]
    return dg.MetadataValue.md("\n".join(lines) if lines else empty)


def counts_by(frame: pd.DataFrame, column: str) -> dict[str, int]:
    if frame.empty or column not in frame:
        return {}
    return {str(k): int(v) for k, v in frame[column].value_counts().sort_index().items()}


def files_table(files: Mapping[str, Mapping[str, Any]]) -> dg.TableMetadataValue:
    """An export batch's files: format, rows and path (for training_exports)."""
    frame = pd.DataFrame(
        [
            {"format": fmt, "rows": int(info.get("rows") or 0), "path": str(info["path"])}
            for fmt, info in files.items()
        ],
        columns=["format", "rows", "path"],
    ).astype({"format": "string", "rows": "int64", "path": "string"})
    return preview(frame, ["format", "rows", "path"], rows=len(frame), width=200)


def retraining_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """retrain()'s result for the UI: numbers stay numbers, lists become short text or bullets."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if key == "reasons":
            out[key] = bullets(value)
        elif key == "trigger_types":
            out[key] = ", ".join(value)
        elif key == "source_batch_ids":
            out["source_batches"] = len(value)
            out[key] = bullets(value, limit=len(value))
        elif isinstance(value, float):
            out[key] = num(value)
        else:
            out[key] = value
    return out


def _md_cell(value: object, limit: int = 160) -> str:
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def history_table(history: list[dict]) -> str:
    rows = [
        f"| {_md_cell(h['model_version_id'])} | {h['status']} "
        f"| {_md_cell(h['parent_model_version_id'] or '-')} "
        f"| {h['eval'].get('wins', '')}/{h['eval'].get('ties', '')}/{h['eval'].get('losses', '')} "
        f"| {_md_cell('; '.join(h['reasons']))} | {(h['created_at'] or '')[:19]} |"
        for h in history
    ]
    head = "| version | status | parent | W/T/L | reasons | created |\n|---|---|---|---|---|---|"
    return "\n".join([head, *rows])
