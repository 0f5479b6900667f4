"""Curate one deployment's window (roles and the frozen eval split) and prove the promises the
checks make.

The curated_sets asset curates a day; the facade curates recent ingested traffic through the same
function (`curate_recent`), and exports it, curating first when nothing is curated yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.curation.audit import unapproved_sft
from feedback_assets.domain.curation.curation import ROLES, CurationConfig, curate
from feedback_assets.domain.curation.eval_split import (
    near_duplicate_of_any,
    split_prompts,
)
from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.curation.selection import Embed
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.registry import Role
from feedback_assets.domain.frames import is_in
from feedback_assets.services import training_exports
from feedback_assets.services.windows import WindowSettings, fresh_window
from feedback_assets.store.eval_set import add_splits, known_splits
from feedback_assets.store.exports import curated_for
from feedback_assets.store.feedback_store import FeedbackStore

# Rows whose answer is a target: sft rows, and eval rows that carry a reference answer.
POSITIVE_SOURCES = ("user_edit", "high_quality", "diverse")
_SOURCE_RANK = {"user_edit": 0, "high_quality": 1, "diverse": 1, "hard_example": 2}
FACADE_PARTITION = "facade"  # curated_examples rows the facade wrote (the asset writes days)
FACADE_WINDOW = 10_000  # events the facade curates when an export finds nothing curated
PAIRS_WINDOW = 100_000  # events preference pairs are mined from


@dataclass
class Curation:
    curated: pd.DataFrame
    new_splits: pd.DataFrame  # prompt_splits rows to add (prompt_key, cluster_key, split, ...)
    conflicts: int  # prompts bridging an eval and a train cluster: left out of every role


@dataclass
class CuratedWindow:
    curated: pd.DataFrame
    reported_positives: list[str]  # reported events picked as positives (must be empty)
    duplicates: int  # same event or same normalized prompt+response twice (must be 0)
    unapproved_sft: list[str]  # sft rows users did not approve (must be empty)
    eval_overlap: int  # sft prompts equal to or near-duplicates of an eval prompt (must be 0)


@dataclass(frozen=True)
class ExportRequest:
    """api.export's arguments (the original library's export options)."""

    format: str = "jsonl"
    output_path: str | None = None  # relative to the export root
    filters: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None
    include_exported: bool = False


def curate_window(
    window: Window,
    embeddings: np.ndarray | None,
    config: CurationConfig,
    known: pd.DataFrame | None = None,
    embed: Embed | None = None,
) -> Curation:
    """Split the window's prompts (respecting `known` assignments), curate, and mark hard rows
    that are the rejected side of a DPO pair as `preference`. Without `embeddings`, `embed`
    vectors only the rows that can be sft seeds or diverse picks."""
    events = window.events
    split = split_prompts(
        events["prompt"],
        known,
        eval_share=config.eval_share,
        threshold=config.near_duplicate_threshold,
        seed=config.seed,
    )
    curated = curate(
        events,
        window.quality,
        window.signals,
        embeddings,
        config,
        split["split"].to_numpy(),
        embed=embed,
    )
    pairs = mine_preference_pairs(
        events, window.signals, window.quality, config.near_duplicate_threshold
    )
    rejected = (curated["role"] == "kto") & is_in(curated["event_id"], pairs["rejected_event_id"])
    curated.loc[rejected, "role"] = "preference"
    # Only the KTO rows' prompts are used here: a marker keeps which answers are present
    # without copying every answer's text (a third of a GB at 333k events).
    marked = events.assign(response=events["response"].notna().map({True: "", False: None}))
    kto = kto_rows(marked, window.signals, window.quality, config.max_hard_quality)
    # Every row's prompt is one of the window's events' prompts: its key is the split's key of
    # that event (normalizing and hashing ~300k prompts again cost seconds and 100 MB).
    key_of = pd.Series(split["prompt_key"].to_numpy(), index=events["event_id"].to_numpy())
    key_of = key_of[~key_of.index.duplicated()]
    pair_prompt_event = pairs["rejected_event_id"].where(
        pairs["source"] != "thumbs", pairs["chosen_event_id"]
    )
    used = pd.concat(
        [
            curated.loc[curated["role"] != "eval", "event_id"],
            pair_prompt_event,
            kto["event_id"],
        ]
    ).map(key_of)
    new = _new_splits(events, split, curated[curated["role"] == "eval"], used, key_of)
    return Curation(curated, new, int((split["split"] == "conflict").sum()))


def _new_splits(
    events: pd.DataFrame,
    split: pd.DataFrame,
    eval_rows: pd.DataFrame,
    used_keys: pd.Series,
    key_of: pd.Series,
) -> pd.DataFrame:
    """Assignments to store: new eval prompts (with their best reference answer) and new train
    prompts (`used_keys`: the prompt keys that reached a training role)."""
    info = (
        split.assign(prompt=events["prompt"]).drop_duplicates("prompt_key").set_index("prompt_key")
    )
    info = info[info["new"] & info["split"].isin(["train", "eval"])]
    ev = eval_rows.assign(
        prompt_key=eval_rows["event_id"].map(key_of).to_numpy(),
        _rank=eval_rows["curation_source"].map(_SOURCE_RANK),
    ).sort_values(["_rank", "event_id"], kind="stable")
    ev = ev.drop_duplicates("prompt_key")
    ev_rows = pd.DataFrame(
        {
            "prompt_key": ev["prompt_key"],
            "prompt": ev["prompt"],
            "reference_answer": ev["response"].where(ev["curation_source"] != "hard_example"),
            "source": ev["curation_source"],
            "event_id": ev["event_id"],
        }
    )
    train_keys = pd.Index(used_keys.unique())
    train_keys = train_keys[is_in(train_keys, info.index[info["split"] == "train"])]
    train_rows = pd.DataFrame(
        {"prompt_key": train_keys, "prompt": info.loc[train_keys, "prompt"].to_numpy()}
    )
    out = pd.concat([ev_rows[is_in(ev_rows["prompt_key"], info.index)], train_rows])
    keys = out["prompt_key"]
    out = out.assign(
        cluster_key=keys.map(info["cluster_key"]).to_numpy(),
        split=keys.map(info["split"]).to_numpy(),
    )
    return out.reset_index(drop=True)


def audit_curated(
    stored: pd.DataFrame,
    window: Window,
    config: CurationConfig,
    eval_prompts: pd.Series | None = None,
) -> CuratedWindow:
    """Reported positives, duplicates, unapproved sft rows and sft prompts in the eval set."""
    if stored.empty:
        return CuratedWindow(stored, [], 0, [], 0)
    signals = window.signals
    reported: set[str] = set()
    if signals is not None and len(signals):
        reported = set(signals.loc[signals["signal_type"] == "report", "event_id"])
    targets = stored[(stored["role"] == "sft") | (stored["role"] == "eval")]
    positives = targets[targets["curation_source"].isin(POSITIVE_SOURCES)]
    bad = sorted(set(positives["event_id"]) & reported)
    text_key = _normalized(stored["prompt"]) + "\x00" + _normalized(stored["response"])
    duplicates = int(stored["event_id"].duplicated().sum() + text_key.duplicated().sum())
    unapproved = unapproved_sft(stored, window.quality, signals, config)
    sft_prompts = stored.loc[stored["role"] == "sft", "prompt"]
    overlap = 0
    if eval_prompts is not None and len(eval_prompts) and len(sft_prompts):
        hits = near_duplicate_of_any(
            sft_prompts, eval_prompts, config.near_duplicate_threshold, config.seed
        )
        overlap = int(hits.sum())
    return CuratedWindow(stored, bad, duplicates, unapproved, overlap)


def role_shares(stored: pd.DataFrame, traffic: int) -> dict[str, float | int]:
    """Per role: count (`n_<role>`) and share of the day's traffic (`share_<role>`)."""
    counts = stored["role"].value_counts() if len(stored) else pd.Series(dtype=int)
    out: dict[str, float | int] = {}
    for role in ROLES:
        n = int(counts.get(role, 0))
        out[f"n_{role}"] = n
        out[f"share_{role}"] = round(n / traffic, 4) if traffic else 0.0
    return out


def _normalized(texts: pd.Series) -> pd.Series:
    return texts.str.casefold().str.split().str.join(" ")


def curate_recent(
    store: FeedbackStore,
    deployment_id: str,
    settings: WindowSettings,
    config: CurationConfig,
    *,
    persist: bool,
    window_size: int,
) -> pd.DataFrame:
    """The deployment's latest `window_size` ingested events, sanitized, scored and curated."""
    events = store.read_events(deployment_id=deployment_id, latest=window_size)
    window = fresh_window(store, events, settings).window
    # The same frozen eval split as the asset: held-out prompts stay held out.
    known = known_splits(store, deployment_id)
    result = curate_window(window, None, config, known, embed=settings.embed)
    if persist:
        store.replace_partition(
            "curated_examples", FACADE_PARTITION, result.curated, deployment_ids=[deployment_id]
        )
        add_splits(store, deployment_id, FACADE_PARTITION, result.new_splits)
    return result.curated


def curated_count(store: FeedbackStore, deployment_id: str) -> int:
    return len(curated_for(store, deployment_id))


def export_recent(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    request: ExportRequest,
    settings: WindowSettings,
    config: CurationConfig,
) -> str:
    """Export curated examples, curating recent traffic first when none are curated yet."""
    if not curated_count(store, deployment_id):
        curate_recent(
            store, deployment_id, settings, config, persist=True, window_size=FACADE_WINDOW
        )
    return training_exports.export_curated(
        store,
        root,
        deployment_id,
        request.format,
        request.output_path,
        request.filters,
        request.limit,
        request.include_exported,
    )


def export_pairs_recent(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    fmt: str,
    output_path: str | None,
    settings: WindowSettings,
    config: CurationConfig,
) -> str:
    """Preference pairs (or KTO rows) mined from recent traffic, scored with the settings."""

    def rows_for(role: Role) -> pd.DataFrame:
        events = store.read_events(deployment_id=deployment_id, latest=PAIRS_WINDOW)
        window = fresh_window(store, events, settings).window
        if role == "kto":
            return kto_rows(window.events, window.signals, window.quality, config.max_hard_quality)
        return mine_preference_pairs(
            window.events, window.signals, window.quality, config.near_duplicate_threshold
        )

    return training_exports.export_pairs(store, root, deployment_id, fmt, output_path, rows_for)
