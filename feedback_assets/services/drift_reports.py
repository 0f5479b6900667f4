"""Drift of one deployment's window against its fixed reference, persisted to the history."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.drift.drift import (
    Features,
    compare_features,
    plot_drift,
    results_frame,
    unit_features,
)
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_reports import Window, drift_report
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.domain.records import DriftReport
from feedback_assets.services.drift_inputs import (
    Embed,
    Side,
    day_window,
    read_side,
    reference_side,
)
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.references import ensure_reference
from feedback_assets.store.windows import deployment_window, window_between


@dataclass
class PartitionDrift:
    report: DriftReport
    results: pd.DataFrame  # one row per test
    plot: Path | None
    reference_id: str | None


def history_row(
    report: DriftReport,
    reference_id: str | None,
    *,
    row_id: str,
    source: str,
    window: tuple[int | None, int | None],
    created_us: int,
    partition_key: str | None = None,
) -> dict[str, Any]:
    """The one shape of a drift_history row (assets, live windows, facade and checks write it)."""
    return {
        "id": row_id,
        "deployment_id": report.deployment_id,
        "partition_key": partition_key,
        "source": source,
        "window_start_us": window[0],
        "window_end_us": window[1],
        "drifted": report.drifted,
        "severity": report.severity,
        "score": report.score,
        "reasons": json.dumps(report.reasons),
        "reference_id": reference_id,
        "reference_size": report.reference_size,
        "current_size": report.current_size,
        "created_us": created_us,
    }


def stored_report(
    reference: Side | None,
    current: Side,
    *,
    deployment_id: str,
    config: DriftConfig,
    embed: Embed | None,
) -> tuple[DriftReport, Features, Features]:
    """detect_drift_frames on stored sides: the same features, text samples and embedding calls
    (the reference's embeddings come from its cache when it holds them)."""
    if reference is None:  # no reference traffic yet: every test reports insufficient data
        reference = Side(current.frame.head(0), None)
    ref, cur = reference.features(config), current.features(config)
    embedder = embed or hashing_embed
    ref_emb = cur_emb = None
    if reference.texts is not None and current.texts is not None:
        ref_emb = reference.embeddings
        if ref_emb is None:
            ref_emb = embedder(reference.texts)
        cur_emb = embedder(current.texts) if ref_emb is not None else None
    report = compare_features(
        ref, cur, config, ref_emb, cur_emb, reference.texts, current.texts, deployment_id
    )
    return report, ref, cur


def _scored_before_features(
    store: FeedbackStore,
    ref: dict[str, Any],
    reference: Side | None,
    current: Side,
    day: str,
) -> bool:
    """Sanitized rows with no feature rows on either side: scored by an older revision."""
    deployment_id = str(ref["deployment_id"])
    if current.frame.empty and store.count(
        "sanitized_logs", partition_key=day, deployment_id=deployment_id
    ):
        return True
    if reference is not None:
        return False
    start, end = int(ref["start_us"]), int(ref["end_us"])
    sample = store.read_table(
        "sanitized_logs", deployment_id=deployment_id, start_us=start, end_us=end, limit=1
    )
    return not sample.empty


def drift_partition(
    store: FeedbackStore,
    *,
    day: str,
    deployment_id: str,
    window: tuple[int, int],
    config: DriftConfig,
    reference_days: int,
    embed: Embed | None,
    plot_path: Path | None,
    embed_key: str = "hashing",
) -> PartitionDrift:
    """Compare the deployment-day with its reference; replace its results and history row.

    Both sides come from stored features (quality_scores writes them); the reference's side,
    texts and embeddings are cached per reference (`embed_key` names the embedder), so a run
    reads the day's feature rows and a sample's texts, and embeds that sample.
    """
    ref = ensure_reference(store, deployment_id, reference_days)
    embed = embed or hashing_embed
    reference = reference_side(store, ref, config, embed=embed, embed_key=embed_key)
    current = read_side(store, day_window(deployment_id, day), config, seed=config.seed + 1)
    if ref is not None and _scored_before_features(store, ref, reference, current, day):
        # Days scored before event_features existed (migration 0011): read their texts.
        raw_ref = window_between(store, deployment_id, int(ref["start_us"]), int(ref["end_us"]))
        report, plot = drift_report(
            raw_ref,
            deployment_window(store, day, deployment_id),
            deployment_id=deployment_id,
            embed=embed,
            config=config,
            plot_path=plot_path,
        )
    else:
        report, ref_f, cur_f = stored_report(
            reference, current, deployment_id=deployment_id, config=config, embed=embed
        )
        plot = None
        if plot_path is not None and report.severity != "insufficient_data" and report.results:
            plot = plot_drift(ref_f, cur_f, report, plot_path)
    results = results_frame(report)
    row = history_row(
        report,
        ref["reference_id"] if ref is not None else None,
        row_id=f"asset:{day}:{deployment_id}",
        source="asset",
        window=window,
        created_us=window[1],  # "as of" the window's end: re-runs give identical rows
        partition_key=day,
    )
    only = [deployment_id]
    store.replace_partition("drift_results", day, results, deployment_ids=only)
    store.replace_partition("drift_history", day, pd.DataFrame([row]), deployment_ids=only)
    return PartitionDrift(report, results, plot, ref["reference_id"] if ref is not None else None)


def live_report(
    reference: Window, current: Window, *, deployment_id: str, config: DriftConfig
) -> DriftReport:
    """Statistical, output and feedback tests only: cheap enough to refresh every few minutes.

    The embedding test (MMD with permutations) is left to the daily drift_reports asset. The
    per-feature tests see independent units, as in the daily report.
    """
    ref = unit_features(reference.events, reference.quality, reference.signals, config)
    cur = unit_features(current.events, current.quality, current.signals, config)
    return compare_features(ref, cur, config, deployment_id=deployment_id)


def judge_window(
    store: FeedbackStore,
    reference: Window,
    reference_id: str | None,
    current: Window,
    *,
    deployment_id: str,
    config: DriftConfig,
    embed: Callable[[list[str]], np.ndarray | None] | None,
    source: str,
) -> DriftReport:
    """A full report of `current` against the reference, appended to the drift history."""
    report, _ = drift_report(
        reference, current, deployment_id=deployment_id, embed=embed, config=config
    )
    ts = current.events["timestamp_us"] if len(current.events) else pd.Series(dtype="int64")
    span = (int(ts.min()), int(ts.max()) + 1) if len(ts) else (None, None)
    row = history_row(
        report, reference_id, row_id=uuid.uuid4().hex, source=source, window=span,
        created_us=now_us(),
    )  # fmt: skip
    store.append("drift_history", [row])
    return report


def drift_history(store: FeedbackStore, deployment_id: str, limit: int) -> list[dict[str, Any]]:
    """Every stored verdict for the deployment (assets, live windows, facade), newest first."""
    frame = store.read_table(
        "drift_history",
        deployment_id=deployment_id,
        order_by=["created_us"],
        descending=True,
        limit=limit,
    )
    rows = frame.drop(columns=["timestamp"], errors="ignore").to_dict("records")
    return [
        {**{str(k): v for k, v in row.items()}, "reasons": json.loads(row["reasons"])}
        for row in rows
    ]
