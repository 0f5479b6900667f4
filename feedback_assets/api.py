"""The original library's public functions (crucible_feedback), in Python.

Ingestion goes through a default FeedbackClient configured from the environment
(FEEDBACK_STORE_URL, FEEDBACK_DATA_DIR, ...), flushed at exit. The analysis functions use the
same domain functions as the assets and work on a store holding only ingested events and
signals: they compute what they need (quality scores, references) on the fly.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedback_assets.client import FeedbackClient
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.quality.quality import (
    QualityConfig,
    assess_response,
    quality_stats,
    score_batch,
)
from feedback_assets.domain.records import DriftReport, TriggerDecision
from feedback_assets.domain.triggers.triggers import fired_only
from feedback_assets.facade import curation_io, drift_io, triggers_io
from feedback_assets.resources.feedback_store import shared_store
from feedback_assets.settings import load_settings
from feedback_assets.store import FeedbackStore

_client: FeedbackClient | None = None
_client_lock = threading.Lock()

__all__ = [
    "assess_quality",
    "check_triggers",
    "curate",
    "detect_drift",
    "export",
    "export_preference_pairs",
    "flush",
    "get_curated_count",
    "get_drift_history",
    "get_quality_stats",
    "log_inference",
    "record_signal",
    "record_user_edit",
]


def _default_client() -> FeedbackClient:
    global _client
    with _client_lock:
        if _client is None:
            _client = FeedbackClient()  # registers its own close() at exit
        return _client


def _store() -> FeedbackStore:
    return shared_store(load_settings().store_url)


# -- ingestion ----------------------------------------------------------------------------------
def log_inference(event: Mapping[str, Any] | None = None, /, **fields: Any) -> str:
    """Log one inference (deployment_id, prompt, response required); returns its event_id."""
    return _default_client().log_inference(event, **fields)


def record_signal(
    event_id: str, signal_type: str, metadata: Mapping[str, Any] | None = None, **fields: Any
) -> str:
    return _default_client().record_signal(event_id, signal_type, metadata, **fields)


def record_user_edit(
    event_id: str, edited_response: str, metadata: Mapping[str, Any] | None = None
) -> str:
    return _default_client().record_user_edit(event_id, edited_response, metadata)


def flush(timeout: float = 30.0) -> bool:
    """Deliver everything logged so far to the store; True when nothing is left pending."""
    return _default_client().flush(timeout)


# -- quality ------------------------------------------------------------------------------------
def assess_quality(event: Mapping[str, Any] | str, **config: Any) -> dict[str, Any]:
    """{"score", "checks"} for one event (or response text); config: min_length, max_length, ..."""
    response = event if isinstance(event, str) else event.get("response")
    return assess_response(response, QualityConfig(**config))


def get_quality_stats(deployment_id: str, window_size: int = 1000, **config: Any) -> dict[str, Any]:
    """Rolling stats over the deployment's latest `window_size` events; "no data" when empty."""
    events = _store().read_events(deployment_id=deployment_id, latest=window_size)
    if events.empty:
        return {"deployment_id": deployment_id, "n": 0, "status": "no data"}
    stats = quality_stats(score_batch(events["response"], QualityConfig(**config)))
    return {"deployment_id": deployment_id, **stats}


# -- drift --------------------------------------------------------------------------------------
def detect_drift(deployment_id: str, window_size: int = 1000, **config: Any) -> DriftReport:
    """The latest `window_size` events vs the deployment's reference; persisted to the history."""
    store = _store()
    current = store.read_events(deployment_id=deployment_id, latest=window_size)
    return drift_io.detect(store, deployment_id, current, DriftConfig(**config), source="facade")


def get_drift_history(deployment_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every stored verdict for the deployment (assets, facade, sensors), newest first."""
    return drift_io.history(_store(), deployment_id, limit)


# -- curation and export ------------------------------------------------------------------------
def curate(
    deployment_id: str,
    persist: bool = True,
    limit: int = 1000,
    window_size: int = 10_000,
    **options: Any,
) -> pd.DataFrame:
    """Curated examples (event_id, curation_source, prompt, response, scores) of recent traffic."""
    return curation_io.curate_recent(
        _store(), deployment_id, persist, limit, window_size, **options
    )


def get_curated_count(deployment_id: str) -> int:
    return curation_io.curated_count(_store(), deployment_id)


def export(
    deployment_id: str,
    format: str = "jsonl",
    output_path: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    include_exported: bool = False,
) -> str:
    """Write curated examples in one format under the export root; returns the path written."""
    root = load_settings().export_root
    return curation_io.export_curated(
        _store(),
        root,
        deployment_id,
        format,
        output_path,
        dict(filters or {}),
        limit,
        include_exported,
    )


def export_preference_pairs(
    deployment_id: str, format: str = "trl", output_path: str | None = None
) -> str:
    """Preference pairs (trl | openai) or KTO rows (kto) mined from edits, regenerates and thumbs."""
    root = load_settings().export_root
    return curation_io.export_pairs(_store(), root, deployment_id, format, output_path)


# -- triggers -----------------------------------------------------------------------------------
def check_triggers(deployment_id: str, **overrides: Any) -> list[TriggerDecision]:
    """The fired trigger decisions (drift_threshold | quality_drop | data_count | scheduled)."""
    types = overrides.pop("trigger_types", None)
    window_hours = overrides.pop("window_hours", None)
    decisions = triggers_io.evaluate_triggers(
        _store(), deployment_id, types=types, window_hours=window_hours, **overrides
    )
    return fired_only(decisions)
