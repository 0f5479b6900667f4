"""One export batch from curated examples and their window (used by training_exports and retraining)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.export import (
    EXPORT_FORMATS,
    ExportBlocked,
    export_batch,
    verify_export,
)

CODE_VERSION = "1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def batch_id_for(deployment_id: str, suffix: str) -> str:
    """A filesystem-safe batch id: `<deployment>_<suffix>` (also its folder under the root)."""
    return _UNSAFE.sub("-", f"{deployment_id}_{suffix}").strip("-.")[:128]


def training_export(
    curated: pd.DataFrame,
    window: Window,
    root: str,
    batch_id: str,
    *,
    formats: Sequence[str] = EXPORT_FORMATS,
    source_window: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Write every format plus the manifest, then load it all back: (manifest, problems).

    A PII hit blocks the batch (manifest None, the reason in problems); nothing is written.
    """
    pairs = mine_preference_pairs(window.events, window.signals, window.quality)
    kto = kto_rows(window.events, window.signals)
    try:
        manifest = export_batch(
            curated,
            pairs,
            kto,
            root,
            batch_id,
            formats=tuple(formats),
            source_window=dict(source_window or {}),
            filters=dict(filters or {}),
            config=dict(config or {}),
            code_version=CODE_VERSION,
            system_prompt=system_prompt,
        )
    except ExportBlocked as exc:
        return None, [f"export blocked: {exc}"]
    return manifest, verify_export(manifest, root)
