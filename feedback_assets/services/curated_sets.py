"""Curate one deployment's window and prove the two promises the checks make."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from feedback_assets.domain.curation.curation import CurationConfig, curate
from feedback_assets.domain.drift.drift_reports import Window

POSITIVE_SOURCES = ("user_edit", "high_quality", "diverse")


@dataclass
class CuratedWindow:
    curated: pd.DataFrame
    reported_positives: list[str]  # reported events picked as positives (must be empty)
    duplicates: int  # same event or same normalized prompt+response twice (must be 0)


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
