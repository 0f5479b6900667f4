"""What a training export is made of: batch ids and each role's rows for one window."""

from __future__ import annotations

import re

import pandas as pd

from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.registry import Role

CODE_VERSION = "1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def batch_id_for(deployment_id: str, suffix: str) -> str:
    """A filesystem-safe batch id: `<deployment>_<suffix>` (also its folder under the root)."""
    return _UNSAFE.sub("-", f"{deployment_id}_{suffix}").strip("-.")[:128]


def training_frames(curated: pd.DataFrame, window: Window) -> dict[Role, pd.DataFrame]:
    """Each role's rows: the curated examples, and DPO pairs and KTO rows mined from the window."""
    return {
        "sft": curated,
        "preference": mine_preference_pairs(window.events, window.signals, window.quality),
        "kto": kto_rows(window.events, window.signals),
    }
