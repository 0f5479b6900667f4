"""The original library's public functions (crucible_feedback), in Python.

Ingestion goes through a default FeedbackClient configured from the environment
(FEEDBACK_STORE_URL, FEEDBACK_DATA_DIR, ...), flushed at exit. The analysis functions read the
settings the assets read (the resources `defs/resources.build_resources` builds: trigger, drift,
quality and curation settings, embedder, judge) and call the same services the assets call, so
keyword arguments override those settings and nothing else. They work on a store holding only
ingested events: a window is sanitized and scored on the fly through those services.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, TypeVar, cast

import dagster as dg
import pandas as pd

from feedback_assets.client import FeedbackClient
from feedback_assets.defs.resources import build_resources
from feedback_assets.domain.quality.quality import assess_response
from feedback_assets.domain.records import DriftReport, TriggerDecision
from feedback_assets.domain.triggers.plan import fired_only
from feedback_assets.domain.triggers.state import TriggerConfig
from feedback_assets.resources.feedback_store import shared_store
from feedback_assets.resources.loop_settings import QualitySettings
from feedback_assets.services import curated_sets, drift_reports, erasure, triggers
from feedback_assets.services.windows import WindowSettings, fresh_window, reference_window
from feedback_assets.settings import load_settings, resolve_hash_key
from feedback_assets.store import FeedbackStore
from feedback_assets.store.model_versions import current_model_version, model_history

_client: FeedbackClient | None = None
_client_lock = threading.Lock()

__all__ = [
    "get_current_model",
    "get_model_history",
    "assess_quality",
    "check_triggers",
    "curate",
    "detect_drift",
    "export",
    "export_preference_pairs",
    "flush",
    "forget_user",
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


# -- erasure ------------------------------------------------------------------------------------
def forget_user(user_id: str) -> dict[str, Any]:
    """Erase everything stored about `user_id` (the id the app logged, hashed here with the
    same key as the SDK): every table, every export batch (rewritten as a new manifest version),
    drift explanations and plots. Returns the report also kept in erasure_log (counts, rewritten
    batches, models already trained on the data; never the id in clear).

    This process's own client is flushed first, so what it accepted is erased too."""
    erasure.check_user_id(user_id)
    if _client is not None:
        _client.flush()
    settings = load_settings()
    return erasure.forget_user(
        _store(),
        settings.export_root,
        settings.data_dir,
        user_id,
        resolve_hash_key(settings.data_dir, settings.production),
    )


# -- settings -----------------------------------------------------------------------------------
C = TypeVar("C")


def _resources() -> dict[str, Any]:
    """The resources the assets read, with dg.EnvVar secrets resolved as Dagster does at run start."""
    built = build_resources()
    secret = [
        k for k, r in built.items() if any(isinstance(v, dg.EnvVar) for v in vars(r).values())
    ]
    if not secret:
        return built
    with dg.build_resources({k: built[k] for k in secret}) as resolved:
        return {**built, **{k: getattr(resolved, k) for k in secret}}


def _window_settings(deployment_id: str, resources: Mapping[str, Any]) -> WindowSettings:
    return WindowSettings.from_resources(
        deployment_id,
        resources["quality_settings"],
        resources["drift_settings"],
        resources["embedder"],
        resources["llm_judge"],
    )


def _override(config: C, overrides: Mapping[str, Any], what: str) -> C:
    """`config` with keyword overrides; an unknown name is a clear error."""
    known = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {what} option(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(config, **overrides)  # type: ignore[type-var]


# -- quality ------------------------------------------------------------------------------------
def assess_quality(event: Mapping[str, Any] | str, **config: Any) -> dict[str, Any]:
    """{"score", "checks"} for one event (or response text); config: min_length, max_length, ..."""
    response = event if isinstance(event, str) else event.get("response")
    deployment_id = None if isinstance(event, str) else event.get("deployment_id")
    settings = cast(QualitySettings, build_resources()["quality_settings"])
    base = settings.config(deployment_id)
    return assess_response(response, _override(base, config, "quality"))


def get_quality_stats(deployment_id: str, window_size: int = 1000, **config: Any) -> dict[str, Any]:
    """Rolling stats over the deployment's latest `window_size` events; "no data" when empty."""
    store = _store()
    events = store.read_events(deployment_id=deployment_id, latest=window_size)
    if events.empty:
        return {"deployment_id": deployment_id, "n": 0, "status": "no data"}
    settings = _window_settings(deployment_id, _resources())
    settings = dataclasses.replace(settings, quality=_override(settings.quality, config, "quality"))
    return {"deployment_id": deployment_id, **fresh_window(store, events, settings).stats}


# -- drift --------------------------------------------------------------------------------------
def detect_drift(deployment_id: str, window_size: int = 1000, **config: Any) -> DriftReport:
    """The latest `window_size` events vs the deployment's reference; persisted to the history."""
    store = _store()
    settings = _window_settings(deployment_id, _resources())
    settings = dataclasses.replace(settings, drift=_override(settings.drift, config, "drift"))
    events = store.read_events(deployment_id=deployment_id, latest=window_size)
    current = fresh_window(store, events, settings).window
    reference, reference_id = reference_window(store, deployment_id, settings)
    return drift_reports.judge_window(
        store,
        reference,
        reference_id,
        current,
        deployment_id=deployment_id,
        config=settings.drift,
        embed=settings.embed,
        source="facade",
    )


def get_drift_history(deployment_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every stored verdict for the deployment (assets, live windows, facade), newest first."""
    return drift_reports.drift_history(_store(), deployment_id, limit)


# -- curation and export ------------------------------------------------------------------------
def curate(
    deployment_id: str,
    persist: bool = True,
    limit: int | None = None,
    window_size: int = 10_000,
    **options: Any,
) -> pd.DataFrame:
    """Curated examples (event_id, curation_source, prompt, response, scores) of recent traffic.

    `limit` and `options` override curation_settings (limit 1000, min_quality_score 0.8, ...).
    """
    resources = _resources()
    config = resources["curation_settings"].config()
    overrides = {**options, **({"limit": limit} if limit is not None else {})}
    return curated_sets.curate_recent(
        _store(),
        deployment_id,
        _window_settings(deployment_id, resources),
        _override(config, overrides, "curation"),
        persist=persist,
        window_size=window_size,
    )


def get_curated_count(deployment_id: str) -> int:
    return curated_sets.curated_count(_store(), deployment_id)


def export(
    deployment_id: str,
    format: str = "jsonl",
    output_path: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    include_exported: bool = False,
) -> str:
    """Write curated examples in one format under the export root; returns the path written."""
    resources = _resources()
    request = curated_sets.ExportRequest(
        format, output_path, dict(filters or {}), limit, include_exported
    )
    return curated_sets.export_recent(
        _store(),
        load_settings().export_root,
        deployment_id,
        request,
        _window_settings(deployment_id, resources),
        resources["curation_settings"].config(),
    )


def export_preference_pairs(
    deployment_id: str, format: str = "trl", output_path: str | None = None
) -> str:
    """Preference pairs (trl | openai) or KTO rows (kto) mined from edits, regenerates and thumbs."""
    resources = _resources()
    return curated_sets.export_pairs_recent(
        _store(),
        load_settings().export_root,
        deployment_id,
        format,
        output_path,
        _window_settings(deployment_id, resources),
        resources["curation_settings"].config(),
    )


# -- triggers -----------------------------------------------------------------------------------
def check_triggers(deployment_id: str, **overrides: Any) -> list[TriggerDecision]:
    """The fired decisions of every registered trigger type (drift_threshold | quality_drop |
    data_count | scheduled); `trigger_types` (aliases drift, accuracy, volume, ... accepted),
    `window_hours` and any trigger_settings field (quality_threshold=0.8, ...) may be given."""
    types = overrides.pop("trigger_types", None)
    window_hours = overrides.pop("window_hours", None)
    resources = _resources()
    config = TriggerConfig.from_overrides(resources["trigger_settings"].config(), **overrides)
    decisions = triggers.check_deployment(
        _store(),
        deployment_id,
        config,
        _window_settings(deployment_id, resources),
        types=types,
        window_hours=window_hours,
    )
    return fired_only(decisions)


def get_model_history(deployment_id: str) -> list[dict[str, Any]]:
    """The deployment's model versions, oldest first: model_version_id, parent_model_version_id,
    status (candidate | promoted | rejected | rolled_back | failed), eval (metrics, wins, ties,
    losses, p-values, cost; "regression" once the live watch judged it), reasons, created_at."""
    return model_history(_store(), deployment_id)


def get_current_model(deployment_id: str) -> str | None:
    """The model version the deployment should serve: the last promoted, not rolled back."""
    return current_model_version(_store(), deployment_id)
