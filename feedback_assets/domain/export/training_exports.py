"""What a training export is made of: batch ids and each role's rows for one window."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

import pandas as pd

from feedback_assets.domain.curation.eval_split import prompt_keys
from feedback_assets.domain.curation.preferences import (
    duplicate_completions,
    kto_rows,
    mine_preference_pairs,
)
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.registry import Role
from feedback_assets.domain.frames import is_in

CODE_VERSION = "2"  # 2: SFT rows are approved answers only; held-out prompts never exported
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Curated roles whose rows are the undesirable side of preference data.
UNDESIRABLE_ROLES: tuple[str, ...] = ("preference", "kto")


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


def sft_rows(curated: pd.DataFrame) -> pd.DataFrame:
    """The rows SFT formats may contain: role `sft` only (eval, preference, kto and legacy
    rows never become fine-tuning targets)."""
    if "role" not in curated.columns:
        raise ValueError("curated.role: required column is missing (curate the window again)")
    return curated[curated["role"] == "sft"].reset_index(drop=True)


def training_frames(
    curated: pd.DataFrame,
    window: Window,
    train_keys: Collection[str] | None = None,
    max_hard_quality: float = 0.5,
) -> dict[Role, pd.DataFrame]:
    """Each role's rows: the sft examples, and DPO pairs and KTO rows mined from the window."""
    hard = curated[curated["role"].isin(UNDESIRABLE_ROLES)] if "role" in curated else curated[:0]
    pairs = preference_frames(hard, window, train_keys, max_hard_quality)
    return {"sft": sft_rows(curated), **pairs}


def preference_frames(
    hard: pd.DataFrame,
    window: Window,
    train_keys: Collection[str] | None = None,
    max_hard_quality: float = 0.5,
) -> dict[Role, pd.DataFrame]:
    """DPO pairs and KTO rows mined from the window, plus the curated hard rows as KTO False.

    `hard` holds the curated undesirable rows (prompt, response, original_response, event_id,
    deployment_id). With `train_keys` (the deployment's prompt keys assigned to training),
    pairs and KTO rows of any other prompt are left out, so a held-out prompt never reaches a
    training file.
    """
    pairs = mine_preference_pairs(window.events, window.signals, window.quality)
    kto = kto_rows(window.events, window.signals, window.quality, max_hard_quality)
    hard_kto = pd.DataFrame(
        {
            "prompt": hard["prompt"],
            "completion": hard["original_response"].fillna(hard["response"]),
            "label": False,
            "event_id": hard["event_id"],
            "deployment_id": hard["deployment_id"],
        }
    )
    # A hard row's False label wins over a thumbs-up True on the same answer.
    kto = kto[~(kto["label"].to_numpy(dtype=bool) & is_in(kto["event_id"], hard["event_id"]))]
    kto = pd.concat([kto, hard_kto], ignore_index=True)
    kto = kto[~duplicate_completions(kto)].reset_index(drop=True)
    kto["label"] = kto["label"].astype(bool)
    if train_keys is not None:
        keys = list(train_keys)
        pairs = pairs[is_in(prompt_keys(pairs["prompt"]), keys)].reset_index(drop=True)
        kto = kto[is_in(prompt_keys(kto["prompt"]), keys)].reset_index(drop=True)
    return {"preference": pairs, "kto": kto}
