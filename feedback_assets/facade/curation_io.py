"""curate / get_curated_count / export / export_preference_pairs on the feedback store.

Exports go through services.training_exports, the code path the training_exports asset uses.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from feedback_assets.domain.curation.curation import CurationConfig, curate
from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.domain.export.registry import Role, resolve_format
from feedback_assets.facade.drift_io import scored
from feedback_assets.services import training_exports
from feedback_assets.store import FeedbackStore
from feedback_assets.store.exports import curated_for

FACADE_PARTITION = "facade"


def _recent(
    store: FeedbackStore, deployment_id: str, window_size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    events = store.read_events(deployment_id=deployment_id, latest=window_size)
    return events, store.read_signals(event_ids=events["event_id"].tolist())


def curate_recent(
    store: FeedbackStore,
    deployment_id: str,
    persist: bool,
    limit: int,
    window_size: int,
    **options: Any,
) -> pd.DataFrame:
    events, signals = _recent(store, deployment_id, window_size)
    texts = (events["prompt"] + "\n" + events["response"]).tolist()
    curated = curate(
        events,
        scored(events),
        signals,
        hashing_embed(texts),
        CurationConfig(limit=limit, **options),
    )
    if persist:
        store.replace_partition(
            "curated_examples", FACADE_PARTITION, curated, deployment_ids=[deployment_id]
        )
    return curated


def curated_count(store: FeedbackStore, deployment_id: str) -> int:
    return len(curated_for(store, deployment_id))


def export_curated(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    fmt: str,
    output_path: str | None,
    filters: dict[str, Any],
    limit: int | None,
    include_exported: bool,
) -> str:
    """Curates recent traffic first when the deployment has no curated examples yet."""
    name = resolve_format(fmt, roles=training_exports.CURATED_ROLES).name
    if not curated_count(store, deployment_id):
        curate_recent(store, deployment_id, True, 1000, 10_000)
    return training_exports.export_curated(
        store, root, deployment_id, name, output_path, filters, limit, include_exported
    )


def export_pairs(
    store: FeedbackStore, root: str, deployment_id: str, fmt: str, output_path: str | None
) -> str:
    def rows_for(role: Role) -> pd.DataFrame:
        events, signals = _recent(store, deployment_id, 100_000)
        if role == "kto":
            return kto_rows(events, signals)
        return mine_preference_pairs(events, signals, scored(events))

    return training_exports.export_pairs(store, root, deployment_id, fmt, output_path, rows_for)
