"""Drift features of a window of events (plus optional quality scores and user signals), and
reference-window selection. Vectorized: pandas string lengths, polars JSON paths, isin joins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, cast

import numpy as np
import pandas as pd
import polars as pl

from feedback_assets.domain.drift.drift_config import DriftConfig

CategoricalColumn = np.ndarray | pd.Categorical  # of str; MISSING marks absent values
FeatureType = Literal["statistical", "output", "feedback"]
MISSING = "<missing>"

# Which result type each feature reports under (input drift vs output drift vs feedback drift).
_NUMERIC_EVENT = {
    "prompt_length": "statistical",
    "response_length": "output",
    "token_count": "statistical",
    "latency_ms": "statistical",
}
_PASS_FLAGS = ("length_passed", "format_passed", "repetition_passed")
_FEEDBACK = {
    "thumbs_down": "thumbs_down_rate",
    "regenerate": "regenerate_rate",
    "report": "report_rate",
}


@dataclass(frozen=True)
class Features:
    """Per-event feature columns of one window. NaN / `MISSING` mark absent values."""

    size: int
    numeric: dict[str, np.ndarray] = field(default_factory=dict)  # float64
    categorical: dict[str, CategoricalColumn] = field(default_factory=dict)
    binary: dict[str, np.ndarray] = field(default_factory=dict)  # float64 in {0, 1, NaN}
    types: dict[str, FeatureType] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.binary]


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing required column(s) {missing}")


def _float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _text_length(values: pd.Series) -> np.ndarray:
    lengths = values.astype("string").str.len()
    return lengths.to_numpy(dtype=np.float64, na_value=np.nan)


def _categories(values: pd.Series) -> CategoricalColumn:
    # Categorical codes make the per-window counting a bincount.
    labels = values.astype(object).where(values.notna(), MISSING).astype(str)
    return cast(CategoricalColumn, pd.Categorical(labels))


def _metadata_fields(metadata: pd.Series, fields: tuple[str, ...]) -> dict[str, CategoricalColumn]:
    if not fields:
        return {}
    text = pl.Series("m", metadata.astype("string").fillna("{}").to_list(), dtype=pl.String)
    out: dict[str, CategoricalColumn] = {}
    for name in fields:
        # Invalid JSON yields null (-> MISSING) instead of failing the batch.
        try:
            got = text.str.json_path_match(f"$.{name}")
        except pl.exceptions.ComputeError:
            got = pl.Series([None] * len(text), dtype=pl.String)
        out[f"metadata.{name}"] = pd.Categorical(got.fill_null(MISSING).to_list())
    return out


def _quality_features(
    events: pd.DataFrame,
    quality: pd.DataFrame,
    numeric: dict[str, np.ndarray],
    categorical: dict[str, CategoricalColumn],
    binary: dict[str, np.ndarray],
    types: dict[str, FeatureType],
) -> None:
    q = quality.set_index("event_id") if "event_id" in quality.columns else quality
    q = q[~q.index.duplicated(keep="last")].reindex(events["event_id"].to_numpy())
    if "score" in q.columns:
        numeric["quality_score"] = _float(q["score"])
        types["quality_score"] = "output"
    if "format_kind" in q.columns:
        categorical["format_kind"] = _categories(q["format_kind"])
        types["format_kind"] = "output"
    if "refusal_passed" in q.columns:
        binary["refusal_rate"] = 1.0 - _float(q["refusal_passed"].astype("boolean"))
        types["refusal_rate"] = "output"
    for flag in _PASS_FLAGS:
        if flag in q.columns:
            name = flag.replace("_passed", "_pass_rate")
            binary[name] = _float(q[flag].astype("boolean"))
            types[name] = "output"


def build_features(
    events: pd.DataFrame,
    quality: pd.DataFrame | None = None,
    signals: pd.DataFrame | None = None,
    config: DriftConfig = DriftConfig(),
) -> Features:
    """Numeric, categorical and binary per-event features of one window.

    Quality columns are joined on event_id (skipped when `quality` is None); feedback rates are
    "this event got at least one <signal>" flags (skipped when `signals` is None; an empty
    signals frame means no feedback, i.e. rate 0).
    """
    _require(events, ("event_id",), "events")
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, CategoricalColumn] = {}
    binary: dict[str, np.ndarray] = {}
    types: dict[str, FeatureType] = {}
    for name, kind in _NUMERIC_EVENT.items():
        source = {"prompt_length": "prompt", "response_length": "response"}.get(name, name)
        if source in events.columns:
            col = events[source]
            numeric[name] = _text_length(col) if name.endswith("_length") else _float(col)
            types[name] = kind  # type: ignore[assignment]
    if "model_version_id" in events.columns:
        categorical["model_version_id"] = _categories(events["model_version_id"])
        types["model_version_id"] = "statistical"
    if config.categorical_metadata_fields and "metadata" in events.columns:
        meta = _metadata_fields(events["metadata"], config.categorical_metadata_fields)
        categorical.update(meta)
        types.update(dict.fromkeys(meta, "statistical"))
    if quality is not None and len(events):
        _quality_features(events, quality, numeric, categorical, binary, types)
    if signals is not None:
        _require(signals, ("event_id", "signal_type"), "signals")
        ids = events["event_id"]
        for signal_type, name in _FEEDBACK.items():
            hit = signals.loc[signals["signal_type"] == signal_type, "event_id"]
            binary[name] = ids.isin(hit).to_numpy(dtype=np.float64)
            types[name] = "feedback"
    return Features(len(events), numeric, categorical, binary, types)


def select_reference(
    events: pd.DataFrame,
    model_version_id: str | None = None,
    first_days: int = 2,
    first_n: int | None = None,
) -> pd.DataFrame:
    """The default reference window: the first `first_days` days (or first `first_n` events) of
    a model version -- by default the version of the latest event (the current one)."""
    _require(events, ("timestamp",), "events")
    if events.empty:
        return events.copy()
    if first_n is not None and first_n < 1:
        raise ValueError(f"first_n: must be >= 1, got {first_n}")
    if first_days < 1:
        raise ValueError(f"first_days: must be >= 1, got {first_days}")
    ts = pd.to_datetime(events["timestamp"], utc=True)
    ordered = events.assign(_ts=ts).sort_values("_ts", kind="stable")
    if "model_version_id" in ordered.columns:
        version = model_version_id
        if version is None:
            version = ordered["model_version_id"].iloc[-1]
        same = (
            ordered["model_version_id"].isna()
            if pd.isna(version)
            else ordered["model_version_id"] == version
        )
        ordered = ordered[same]
    elif model_version_id is not None:
        raise ValueError("events: no model_version_id column to select a version from")
    if first_n is not None:
        chosen = ordered.head(first_n)
    else:
        start = ordered["_ts"].iloc[0] if len(ordered) else None
        chosen = (
            ordered
            if start is None
            else ordered[ordered["_ts"] < start + timedelta(days=first_days)]
        )
    return chosen.drop(columns="_ts")
