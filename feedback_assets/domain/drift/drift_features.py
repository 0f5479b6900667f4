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


# What drift reads of each event (besides the texts of a small sample), stored once per event.
EVENT_COLUMNS = ("prompt_length", "response_length", "token_count", "latency_ms")
QUALITY_COLUMNS = ("score", "format_kind", "refusal_passed", *_PASS_FLAGS)
FEEDBACK_FLAGS = tuple(_FEEDBACK)  # "this event got at least one <signal>", 0/1


def _hash63(values: pd.Series) -> np.ndarray:
    """Deterministic (fixed-key SipHash) non-negative int64 hash of each value's text."""
    text = values.astype("string").fillna("").astype(object)
    hashed = pd.util.hash_pandas_object(text, index=False).to_numpy(dtype=np.uint64)
    return (hashed >> np.uint64(1)).astype(np.int64)


def _whole(values: np.ndarray) -> pd.Series:
    # Nullable Int64 (the column is BIGINT); a fractional count is truncated, as the DB would.
    return pd.Series(np.trunc(values)).astype("Int64")


def event_feature_columns(events: pd.DataFrame) -> pd.DataFrame:
    """Per-event columns derived from the texts, computed once: lengths, the event's numbers, and
    hashes standing in for texts where only equality matters (prompt: de-duplication; user:
    the per-user cap; event_id: the deterministic sample's order). user_hash is NA without a user.
    """
    _require(events, ("event_id", "prompt", "response"), "events")
    out = pd.DataFrame({"event_id": events["event_id"].to_numpy()})
    out["prompt_length"] = _whole(_text_length(events["prompt"]))
    out["response_length"] = _whole(_text_length(events["response"]))
    tokens = _float(events["token_count"]) if "token_count" in events.columns else np.nan
    out["token_count"] = _whole(np.broadcast_to(tokens, len(events)))
    out["latency_ms"] = _float(events["latency_ms"]) if "latency_ms" in events.columns else np.nan
    out["prompt_hash"] = _hash63(events["prompt"])
    users = events["user_id"] if "user_id" in events.columns else pd.Series([None] * len(events))
    has_user = (users.astype("string").fillna("") != "").to_numpy()
    out["user_hash"] = pd.array(np.where(has_user, _hash63(users), 0), dtype="Int64")
    out.loc[~has_user, "user_hash"] = pd.NA
    sessions = events["session_id"] if "session_id" in events.columns else None
    out["session_hash"] = pd.array([pd.NA] * len(events), dtype="Int64")
    if sessions is not None:  # NA without a session: each such event is its own unit
        known = sessions.notna().to_numpy()
        out.loc[known, "session_hash"] = _hash63(sessions[known])
    out["sample_key"] = _hash63(events["event_id"])
    if "metadata" in events.columns:
        out["metadata"] = events["metadata"].to_numpy()
    return out


def feature_frame(
    events: pd.DataFrame, quality: pd.DataFrame | None = None, signals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The frame `features_from_frame` reads, from raw events: what event_features stores, the
    quality columns joined on event_id (absent when `quality` is None or there are no events) and
    the feedback flags (absent when `signals` is None; an empty frame means no feedback)."""
    _require(events, ("event_id",), "events")
    out = pd.DataFrame(index=pd.RangeIndex(len(events)))
    for name in EVENT_COLUMNS:
        source = {"prompt_length": "prompt", "response_length": "response"}.get(name, name)
        if source in events.columns:
            col = events[source]
            out[name] = _text_length(col) if name.endswith("_length") else _float(col)
    if "model_version_id" in events.columns:
        out["model_version_id"] = events["model_version_id"].to_numpy()
    if quality is not None and len(events):
        q = quality.set_index("event_id") if "event_id" in quality.columns else quality
        q = q[~q.index.duplicated(keep="last")].reindex(events["event_id"].to_numpy())
        for name in QUALITY_COLUMNS:
            if name in q.columns:
                out[name] = q[name].to_numpy()
    if signals is not None:
        out = out.join(signal_flags(events["event_id"], signals))
    return out


def signal_flags(event_ids: pd.Series, signals: pd.DataFrame) -> pd.DataFrame:
    """FEEDBACK_FLAGS of each event (0/1 float64), positional like `event_ids`."""
    _require(signals, ("event_id", "signal_type"), "signals")
    ids = pd.Series(event_ids).reset_index(drop=True)
    return pd.DataFrame(
        {
            name: ids.isin(signals.loc[signals["signal_type"] == name, "event_id"]).to_numpy(
                dtype=np.float64
            )
            for name in FEEDBACK_FLAGS
        }
    )


def features_from_frame(
    frame: pd.DataFrame, config: DriftConfig = DriftConfig(), metadata: pd.Series | None = None
) -> Features:
    """Features of one window from its per-event columns (`feature_frame` or event_features rows
    plus `signal_flags`): a column absent from the frame is a feature absent from the window."""
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, CategoricalColumn] = {}
    binary: dict[str, np.ndarray] = {}
    types: dict[str, FeatureType] = {}
    for name, kind in _NUMERIC_EVENT.items():
        if name in frame.columns:
            numeric[name] = _float(frame[name])
            types[name] = kind  # type: ignore[assignment]
    if "model_version_id" in frame.columns:
        categorical["model_version_id"] = _categories(frame["model_version_id"])
        types["model_version_id"] = "statistical"
    if config.categorical_metadata_fields and metadata is not None:
        meta = _metadata_fields(metadata, config.categorical_metadata_fields)
        categorical.update(meta)
        types.update(dict.fromkeys(meta, "statistical"))
    if len(frame):
        if "score" in frame.columns:
            numeric["quality_score"], types["quality_score"] = _float(frame["score"]), "output"
        if "format_kind" in frame.columns:
            categorical["format_kind"] = _categories(frame["format_kind"])
            types["format_kind"] = "output"
        if "refusal_passed" in frame.columns:
            refusal = _float(frame["refusal_passed"].astype("boolean"))
            binary["refusal_rate"], types["refusal_rate"] = 1.0 - refusal, "output"
        for flag in _PASS_FLAGS:
            if flag in frame.columns:
                name = flag.replace("_passed", "_pass_rate")
                binary[name], types[name] = _float(frame[flag].astype("boolean")), "output"
    for signal_type, name in _FEEDBACK.items():
        if signal_type in frame.columns:
            binary[name], types[name] = _float(frame[signal_type]), "feedback"
    return Features(len(frame), numeric, categorical, binary, types)


def build_features(
    events: pd.DataFrame,
    quality: pd.DataFrame | None = None,
    signals: pd.DataFrame | None = None,
    config: DriftConfig = DriftConfig(),
) -> Features:
    """Numeric, categorical and binary per-event features of one window, from raw events.

    Quality columns are joined on event_id (skipped when `quality` is None); feedback rates are
    "this event got at least one <signal>" flags (skipped when `signals` is None; an empty
    signals frame means no feedback, i.e. rate 0).
    """
    metadata = events["metadata"] if "metadata" in events.columns else None
    return features_from_frame(feature_frame(events, quality, signals), config, metadata)


def text_sample_positions(
    frame: pd.DataFrame, max_samples: int, seed: int, per_user_cap: int = 10
) -> np.ndarray:
    """Positions (into `frame`, in window order) of the events whose texts the embedding and
    novelty tests read, chosen from prompt_hash / user_hash exactly as drift.embedding_texts
    chooses from the texts: one event per distinct prompt, at most `per_user_cap` per user
    (unless that drops most of the window), then a seeded sample of `max_samples`."""
    _require(frame, ("prompt_hash", "user_hash"), "features")
    take = frame[["prompt_hash", "user_hash"]].reset_index(drop=True)
    take = take.drop_duplicates(subset="prompt_hash")
    if per_user_cap > 0:
        users = take["user_hash"]
        capped = (users.groupby(users, dropna=True).cumcount() < per_user_cap) | users.isna()
        capped = capped.reindex(take.index, fill_value=True)
        if capped.sum() >= 0.5 * len(take):
            take = take[capped.to_numpy()]
    if len(take) > max_samples:
        take = take.sample(n=max_samples, random_state=seed).sort_index()
    return take.index.to_numpy()


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


def stored_units(frame: pd.DataFrame) -> pd.DataFrame:
    """drift.units.independent_units on stored rows (window order = time order): the first
    event of each (session, prompt) group; rows without a session are each their own unit."""
    if "session_hash" not in frame.columns or len(frame) < 2:
        return frame
    keys = frame[["session_hash", "prompt_hash"]]
    repeat = keys.duplicated(keep="first") & keys["session_hash"].notna()
    return frame if not repeat.any() else frame[~repeat.to_numpy()]
