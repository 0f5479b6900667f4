"""What a training export is made of: batch ids and each role's rows for one window."""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.registry import Role

CODE_VERSION = "1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


_MAX_ID = 128
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # export.check_batch_id's rule
_HASH_CHARS = 10


def batch_id_for(deployment_id: str, suffix: str) -> str:
    """A filesystem-safe batch id: `<deployment>_<suffix>` (also its folder under the root).

    Injective: when the plain id would be ambiguous (characters replaced, a '_' in the
    deployment id that could shift the split, or a cut to 128 characters), a short hash of the
    raw pair is appended, so `team/a` and `team-a` get different batches.
    """
    raw = f"{deployment_id}_{suffix}"
    if _PLAIN.match(raw) and "_" not in deployment_id:
        return raw
    tag = hashlib.blake2b(f"{deployment_id}\0{suffix}".encode(), digest_size=8).hexdigest()
    safe = _UNSAFE.sub("-", raw).lstrip("-._")
    head = safe[: _MAX_ID - _HASH_CHARS - 1].rstrip("-.") or "batch"
    return f"{head}-{tag[:_HASH_CHARS]}"


def training_frames(curated: pd.DataFrame, window: Window) -> dict[Role, pd.DataFrame]:
    """Each role's rows: the curated examples, and DPO pairs and KTO rows mined from the window."""
    return {
        "sft": curated,
        "preference": mine_preference_pairs(window.events, window.signals, window.quality),
        "kto": kto_rows(window.events, window.signals),
    }
