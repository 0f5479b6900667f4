"""Curate a deployment's window and prove the two promises the checks make.

The curated_sets asset curates a day; the facade curates recent ingested traffic through the same
function (`curate_recent`), and exports it, curating first when nothing is curated yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.curation.curation import CurationConfig, curate
from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.registry import Role
from feedback_assets.services import training_exports
from feedback_assets.services.windows import WindowSettings, fresh_window
from feedback_assets.store.exports import curated_for
from feedback_assets.store.feedback_store import FeedbackStore

POSITIVE_SOURCES = ("user_edit", "high_quality", "diverse")
FACADE_PARTITION = "facade"  # curated_examples rows the facade wrote (the asset writes days)
FACADE_WINDOW = 10_000  # events the facade curates when an export finds nothing curated
PAIRS_WINDOW = 100_000  # events preference pairs are mined from


@dataclass
class CuratedWindow:
    curated: pd.DataFrame
    reported_positives: list[str]  # reported events picked as positives (must be empty)
    duplicates: int  # same event or same normalized prompt+response twice (must be 0)


@dataclass(frozen=True)
class ExportRequest:
    """api.export's arguments (the original library's export options)."""

    format: str = "jsonl"
    output_path: str | None = None  # relative to the export root
    filters: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None
    include_exported: bool = False


def curate_window(
    window: Window, embeddings: np.ndarray | None, config: CurationConfig
) -> pd.DataFrame:
    return curate(window.events, window.quality, window.signals, embeddings, config)


def audit_curated(stored: pd.DataFrame, signals: pd.DataFrame | None) -> CuratedWindow:
    """Reported positives and duplicates among the stored curated rows."""
    if stored.empty:
        return CuratedWindow(stored, [], 0)
    reported: set[str] = set()
    if signals is not None and len(signals):
        reported = set(signals.loc[signals["signal_type"] == "report", "event_id"])
    positives = stored[stored["curation_source"].isin(POSITIVE_SOURCES)]
    bad = sorted(set(positives["event_id"]) & reported)
    text_key = _normalized(stored["prompt"]) + "\x00" + _normalized(stored["response"])
    duplicates = int(stored["event_id"].duplicated().sum() + text_key.duplicated().sum())
    return CuratedWindow(stored, bad, duplicates)


def _normalized(texts: pd.Series) -> pd.Series:
    return texts.str.casefold().str.split().str.join(" ")


def curate_recent(
    store: FeedbackStore,
    deployment_id: str,
    settings: WindowSettings,
    config: CurationConfig,
    *,
    persist: bool,
    window_size: int,
) -> pd.DataFrame:
    """The deployment's latest `window_size` ingested events, sanitized, scored and curated."""
    events = store.read_events(deployment_id=deployment_id, latest=window_size)
    window = fresh_window(store, events, settings).window
    texts = (window.events["prompt"] + "\n" + window.events["response"]).tolist()
    embeddings = settings.embed(texts) if settings.embed is not None else None
    curated = curate_window(window, embeddings, config)
    if persist:
        store.replace_partition(
            "curated_examples", FACADE_PARTITION, curated, deployment_ids=[deployment_id]
        )
    return curated


def curated_count(store: FeedbackStore, deployment_id: str) -> int:
    return len(curated_for(store, deployment_id))


def export_recent(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    request: ExportRequest,
    settings: WindowSettings,
    config: CurationConfig,
) -> str:
    """Export curated examples, curating recent traffic first when none are curated yet."""
    if not curated_count(store, deployment_id):
        curate_recent(
            store, deployment_id, settings, config, persist=True, window_size=FACADE_WINDOW
        )
    return training_exports.export_curated(
        store,
        root,
        deployment_id,
        request.format,
        request.output_path,
        request.filters,
        request.limit,
        request.include_exported,
    )


def export_pairs_recent(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    fmt: str,
    output_path: str | None,
    settings: WindowSettings,
    config: CurationConfig,
) -> str:
    """Preference pairs (or KTO rows) mined from recent traffic, scored with the settings."""

    def rows_for(role: Role) -> pd.DataFrame:
        events = store.read_events(deployment_id=deployment_id, latest=PAIRS_WINDOW)
        window = fresh_window(store, events, settings).window
        if role == "kto":
            return kto_rows(window.events, window.signals)
        return mine_preference_pairs(
            window.events, window.signals, window.quality, config.near_duplicate_threshold
        )

    return training_exports.export_pairs(store, root, deployment_id, fmt, output_path, rows_for)
