"""Small helpers that turn frames into Dagster metadata (markdown previews, tables)."""

from collections.abc import Sequence

import dagster as dg
import pandas as pd


def preview(
    frame: pd.DataFrame, columns: Sequence[str], rows: int = 5, width: int = 80
) -> dg.MetadataValue:
    """A markdown preview with long text cut, so the UI stays readable."""
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = frame.loc[:, [c for c in columns if c in frame]].head(rows).copy()
    for col in shown.columns:
        shown[col] = shown[col].map(lambda v: _cell(v, width))
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return dg.MetadataValue.md("\n".join([header, rule, *body]))


def _cell(value: object, width: int) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def counts_by(frame: pd.DataFrame, column: str) -> dict[str, int]:
    if frame.empty or column not in frame:
        return {}
    return {str(k): int(v) for k, v in frame[column].value_counts().sort_index().items()}
