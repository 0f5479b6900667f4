"""The drift_reports step for one deployment: compare a window with its reference, plot it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from feedback_assets.domain.drift.drift import build_features, detect_drift_frames
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_plot import plot_drift
from feedback_assets.domain.records import DriftReport


@dataclass(frozen=True)
class Window:
    """One window's sanitized events, their quality rows and their signals."""

    events: pd.DataFrame
    quality: pd.DataFrame | None = None
    signals: pd.DataFrame | None = None


def drift_report(
    reference: Window,
    current: Window,
    *,
    deployment_id: str,
    embed: Callable[[list[str]], np.ndarray | None] | None = None,
    config: DriftConfig = DriftConfig(),
    plot_path: str | Path | None = None,
) -> tuple[DriftReport, Path | None]:
    """The report (verdict, reasons, per-test results) and, if asked, a PNG of the top features."""
    report = detect_drift_frames(
        reference.events,
        current.events,
        reference_quality=reference.quality,
        current_quality=current.quality,
        reference_signals=reference.signals,
        current_signals=current.signals,
        embed=embed,
        config=config,
        deployment_id=deployment_id,
    )
    plot = None
    if plot_path is not None and report.severity != "insufficient_data" and report.results:
        plot = plot_drift(
            build_features(reference.events, reference.quality, reference.signals, config),
            build_features(current.events, current.quality, current.signals, config),
            report,
            plot_path,
        )
    return report, plot
