"""Curation: signal aggregation, selection strategies and three-level dedupe.

Strategies (in priority order): user edits, high quality, hard examples, diverse. The diverse
strategy is quality-first greedy selection with a minimum cosine distance to everything already
selected (DEITA-style), not the original's farthest-from-centroid outlier picking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from feedback_assets.domain.curation.dedupe import Deduper, dedupe
from feedback_assets.domain.curation.eval_split import SPLITS
from feedback_assets.domain.curation.joins import quality_of
from feedback_assets.domain.curation.selection import (
    Embed,
    RowVectors,
    cap_refusals,
    embed_rows,
    split_budget,
    take,
    take_diverse,
    trim_refusals,
)
from feedback_assets.domain.ingest.signals import DEFAULT_SIGNAL_WEIGHTS, EXPLICIT_SIGNALS
from feedback_assets.domain.records import SIGNAL_TYPES

__all__ = ["CurationConfig", "aggregate_signals", "curate", "dedupe"]

CURATED_COLUMNS: tuple[str, ...] = (
    "event_id",
    "deployment_id",
    "model_version_id",
    "prompt",
    "response",
    "original_response",
    "curation_source",
    "curation_score",
    "quality_score",
    "signal_score",
    "role",
)
# sft: an approved answer to train on; preference / kto: the rejected or undesirable side of
# preference data; eval: held out for the evaluation gate.
ROLES: tuple[str, ...] = ("sft", "preference", "kto", "eval")
STRATEGIES: tuple[str, ...] = ("user_edit", "high_quality", "hard_example", "diverse")
USER_EDIT_SCORE = 10.0
# The response of an event a store read left out: it can be neither selected nor paired.
UNREAD_RESPONSE = "\x00[answer not read: not a curation candidate]"


def _default_shares() -> Mapping[str, float]:
    return MappingProxyType(
        {"user_edit": 0.25, "high_quality": 0.35, "hard_example": 0.2, "diverse": 0.2}
    )


@dataclass(frozen=True)
class CurationConfig:
    """Selection knobs. `strategy_shares` split `limit`; user edits are always taken first (all of
    them, up to `limit`), and what remains is split among the other strategies by their shares.
    Quota a strategy cannot fill stays unused. `min_judge_score` approves an answer when the
    judge ran; `eval_share` of new prompt clusters are held out for evaluation."""

    limit: int = 1000
    min_quality_score: float = 0.8
    max_hard_quality: float = 0.5
    min_judge_score: float = 0.8
    eval_share: float = 0.1
    strategy_shares: Mapping[str, float] = field(default_factory=_default_shares)
    max_refusal_share_in_positives: float = 0.05
    near_duplicate_threshold: float = 0.85
    diverse_min_distance: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError(f"limit: must be >= 0, got {self.limit}")
        unknown = set(self.strategy_shares) - set(STRATEGIES)
        if unknown:
            raise ValueError(f"strategy_shares: unknown strategies {sorted(unknown)}")
        if any(v < 0 for v in self.strategy_shares.values()):
            raise ValueError("strategy_shares: shares must be >= 0")
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise ValueError("near_duplicate_threshold: must be in (0, 1]")
        if not 0.0 <= self.eval_share <= 1.0:
            raise ValueError(f"eval_share: must be in [0, 1], got {self.eval_share}")
        if not 0.0 <= self.max_refusal_share_in_positives <= 1.0:
            raise ValueError("max_refusal_share_in_positives: must be in [0, 1]")


# ---------------------------------------------------------------- signals


def aggregate_signals(
    signals: pd.DataFrame, weights: Mapping[str, float] = DEFAULT_SIGNAL_WEIGHTS
) -> pd.DataFrame:
    """One row per event_id with weighted scores, per-type counts, latest edit and report flag.

    A user's repeated signals of one type on one event count once; signals without a user id
    count once per signal_id (nothing says they are repeats).
    """
    count_cols = [f"n_{t}" for t in SIGNAL_TYPES]
    out_cols = [
        "event_id",
        "signal_score",
        "explicit_score",
        "implicit_score",
        *count_cols,
        "edited_response",
        "reported",
    ]
    for col in ("event_id", "signal_type"):
        if col not in signals.columns:
            raise ValueError(f"signals.{col}: required column is missing")
    if signals.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in out_cols})
    s = signals[signals["signal_type"].isin(SIGNAL_TYPES) & signals["event_id"].notna()].copy()
    counts = _distinct_counts(s)
    w = np.array([float(weights.get(t, 0.0)) for t in SIGNAL_TYPES])
    explicit = np.array([t in EXPLICIT_SIGNALS for t in SIGNAL_TYPES])
    mat = counts.to_numpy(dtype=np.float64)
    out = pd.DataFrame(
        {
            "event_id": counts.index.to_numpy(),
            "signal_score": mat @ w,
            "explicit_score": mat @ (w * explicit),
            "implicit_score": mat @ (w * ~explicit),
        }
    )
    for t, col in zip(SIGNAL_TYPES, count_cols, strict=True):
        out[col] = counts[t].to_numpy()
    out["edited_response"] = _latest_edits(s, out["event_id"])
    out["reported"] = out["n_report"] > 0
    return out[out_cols]


def _distinct_counts(s: pd.DataFrame) -> pd.DataFrame:
    """Per event and signal type, how many distinct users (or unattributed signals) sent it."""
    if "signal_id" in s:
        s = s.drop_duplicates("signal_id")  # a retried delivery of the same signal
        sid = s["signal_id"].astype(str)
    else:
        sid = pd.Series(s.index.astype(str), index=s.index)
    user = s["user_id"] if "user_id" in s else pd.Series(None, index=s.index, dtype=object)
    who = user.where(user.notna(), "signal:" + sid)
    distinct = s.assign(_who=who).drop_duplicates(["event_id", "signal_type", "_who"])
    # A bincount over (event, type) codes: what pd.crosstab gives, without its pivot machinery.
    codes, events = pd.factorize(distinct["event_id"], sort=True)
    kinds = pd.Categorical(distinct["signal_type"], categories=list(SIGNAL_TYPES)).codes
    width = len(SIGNAL_TYPES)
    flat = np.bincount(codes * width + kinds, minlength=len(events) * width)
    return pd.DataFrame(
        flat.reshape(len(events), width).astype("int64"),
        index=pd.Index(events, name="event_id"),
        columns=list(SIGNAL_TYPES),
    )


def _latest_edits(s: pd.DataFrame, event_ids: pd.Series) -> pd.Series | None:
    if "edited_response" not in s:
        return None
    edits = s[(s["signal_type"] == "edit") & s["edited_response"].notna()]
    if "timestamp" in edits:
        edits = edits.sort_values("timestamp", kind="stable")
    return event_ids.map(edits.groupby("event_id")["edited_response"].last())


# ---------------------------------------------------------------- curation


def curate(
    events: pd.DataFrame,
    quality: pd.DataFrame | None,
    signals: pd.DataFrame | None,
    embeddings: np.ndarray | None = None,
    config: CurationConfig = CurationConfig(),  # noqa: B008 - frozen, so a shared default is safe
    split: np.ndarray | pd.Series | None = None,
    embed: Embed | None = None,
) -> pd.DataFrame:
    """Select training examples (up to `config.limit`) and eval examples (columns: CURATED_COLUMNS).

    `split` gives each events row's prompt split ("train", "eval" or "conflict", see eval_split);
    None means all train. Train rows become `sft` targets only when users approved the answer
    (an edit's edited text; net-positive feedback and quality >= min_quality_score; or a judge
    score >= min_judge_score with that quality and no negative feedback); hard examples get role
    `kto` (the undesirable side). Eval-split rows that have a reference answer or are hard get
    role `eval`; conflict rows are dropped. Rows lacking an event_id, prompt or response are
    skipped. Reported events are never sft targets. Without `embeddings`, `embed` (texts ->
    vectors or None) is called (in chunks) for the rows that can be sft seeds or diverse picks.
    """
    for col in ("event_id", "deployment_id", "prompt", "response"):
        if col not in events.columns:
            raise ValueError(f"events.{col}: required column is missing")
    if embeddings is not None and len(embeddings) != len(events):
        raise ValueError(
            f"embeddings: {len(embeddings)} rows but events has {len(events)} (must be aligned)"
        )
    pool = _with_eligibility(_candidate_pool(events, quality, signals), config)
    if split is not None:
        values = np.asarray(split, dtype=object)
        if len(values) != len(events):
            raise ValueError(f"split: {len(values)} rows but events has {len(events)}")
        unknown = set(values) - set(SPLITS)
        if unknown:
            raise ValueError(f"split: unknown values {sorted(map(str, unknown))}; use {SPLITS}")
        pool["_split"] = values[pool["_pos"].to_numpy()]
    else:
        pool["_split"] = "train"
    vectors: np.ndarray | RowVectors | None = embeddings
    if vectors is None and embed is not None:
        can_seed = (pool["_edit"] | pool["_eligible"]) & (pool["_split"] == "train")
        vectors = embed_rows(pool.loc[can_seed, "_pos"].to_numpy(), events, embed)
    train = _select_training(pool[pool["_split"] == "train"], events, vectors, config)
    held_out = _select_eval(pool[pool["_split"] == "eval"], events, config)
    parts = [p for p in (train, held_out) if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CURATED_COLUMNS})
    return _materialize(pd.concat(parts, ignore_index=True), events)


def _with_eligibility(pool: pd.DataFrame, cfg: CurationConfig) -> pd.DataFrame:
    """Flags: _edit (a usable user edit), _eligible (an approved answer), _hard."""
    clean = (pool["n_thumbs_down"] == 0) & (pool["n_regenerate"] == 0) & ~pool["reported"]
    q = pool["quality_score"]
    q_ok = q.ge(cfg.min_quality_score).fillna(False).astype(bool)
    approved = clean & q_ok & (pool["signal_score"] > 0)
    judged = clean & q_ok & pool["judge_score"].ge(cfg.min_judge_score).fillna(False).astype(bool)
    judged &= pool["signal_score"] >= 0
    edited = (pool["n_edit"] > 0) & pool["edited_response"].notna() & ~pool["reported"]
    edited &= pool["edited_response"].astype(str).str.contains(r"\S", regex=True)
    negative = (pool["signal_score"] < 0) | ~clean
    hard = q.le(cfg.max_hard_quality).fillna(False).astype(bool) | negative
    return pool.assign(
        _edit=edited.to_numpy(),
        _eligible=(approved | judged).to_numpy(),
        _hard=(hard & ~approved & ~judged & ~edited).to_numpy(),
    )


def _select_training(
    train: pd.DataFrame,
    events: pd.DataFrame,
    embeddings: np.ndarray | RowVectors | None,
    cfg: CurationConfig,
) -> pd.DataFrame:
    """Edits first; the rest of `limit` is split by share. A share that cannot be filled stays
    unused: nothing unapproved fills it."""
    deduper = Deduper(cfg.near_duplicate_threshold, seed=cfg.seed)
    edits = take(_edit_candidates(train), cfg.limit, deduper, "user_edit", events)
    budgets = split_budget(cfg, cfg.limit - len(edits))
    rest = train[~train["event_id"].isin(edits["event_id"])]
    eligible = rest[rest["_eligible"]]
    refusal_left = int(
        cfg.max_refusal_share_in_positives * (budgets["high_quality"] + budgets["diverse"])
    )
    hq, refusal_left = cap_refusals(_high_quality_candidates(eligible), refusal_left)
    hq = take(hq, budgets["high_quality"], deduper, "high_quality", events)
    hard = take(
        _hard_candidates(rest[rest["_hard"]]),
        budgets["hard_example"],
        deduper,
        "hard_example",
        events,
    )
    div, _ = cap_refusals(
        _diverse_candidates(eligible[~eligible["event_id"].isin(hq["event_id"])]), refusal_left
    )
    seeds = pd.concat([edits, hq])["_pos"].to_numpy()
    div = take_diverse(div, budgets["diverse"], deduper, seeds, events, embeddings, cfg)
    sel = pd.concat([edits, hq, hard, div], ignore_index=True)
    sel = trim_refusals(sel, cfg.max_refusal_share_in_positives)
    return sel.assign(role=np.where(sel["curation_source"] == "hard_example", "kto", "sft"))


def _select_eval(held: pd.DataFrame, events: pd.DataFrame, cfg: CurationConfig) -> pd.DataFrame:
    """Every eval-split prompt with a known reference answer (edit, approved) or a hard one."""
    deduper = Deduper(cfg.near_duplicate_threshold, seed=cfg.seed)
    edits = _edit_candidates(held)
    rest = held[~held["event_id"].isin(edits["event_id"])]
    parts = [
        take(edits, len(edits), deduper, "user_edit", events),
        take(
            _high_quality_candidates(rest[rest["_eligible"]]),
            len(rest),
            deduper,
            "high_quality",
            events,
        ),
        take(_hard_candidates(rest[rest["_hard"]]), len(rest), deduper, "hard_example", events),
    ]
    return pd.concat(parts, ignore_index=True).assign(role="eval")


def _edit_candidates(pool: pd.DataFrame) -> pd.DataFrame:
    edits = pool[pool["_edit"]]
    edits = edits.assign(curation_score=USER_EDIT_SCORE)
    return edits.sort_values(["signal_score", "_pos"], ascending=[False, True], kind="stable")


def _high_quality_candidates(eligible: pd.DataFrame) -> pd.DataFrame:
    judge = eligible["judge_score"].fillna(0.0)
    score = 5.0 * eligible["quality_score"] + eligible["signal_score"].clip(upper=5.0) + judge
    hq = eligible.assign(curation_score=score.astype(float))
    return hq.sort_values(["curation_score", "_pos"], ascending=[False, True], kind="stable")


def _hard_candidates(hard: pd.DataFrame) -> pd.DataFrame:
    # Difficulty: how far below perfect quality, plus how negative the users were.
    neg = (-hard["signal_score"]).clip(lower=0) / 3
    difficulty = (1.0 - hard["quality_score"]).fillna(0.0) + neg
    hard = hard.assign(curation_score=difficulty.astype(float))
    return hard.sort_values(["curation_score", "_pos"], ascending=[False, True], kind="stable")


def _diverse_candidates(div: pd.DataFrame) -> pd.DataFrame:
    div = div.assign(curation_score=div["quality_score"].fillna(0.0))
    return div.sort_values(
        ["quality_score", "signal_score", "_pos"],
        ascending=[False, False, True],
        na_position="last",
    )


def _materialize(sel: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Fetch text and ids for the selected rows only (the pool carries no text)."""
    pos = sel["_pos"].to_numpy()
    out = pd.DataFrame(
        {
            "event_id": events["event_id"].iloc[pos].to_numpy(),
            "deployment_id": events["deployment_id"].iloc[pos].to_numpy(),
            "model_version_id": (
                events["model_version_id"].iloc[pos].to_numpy()
                if "model_version_id" in events
                else None
            ),
            "prompt": events["prompt"].iloc[pos].to_numpy(),
            "original_response": events["response"].iloc[pos].to_numpy(),
        }
    )
    if (out["original_response"] == UNREAD_RESPONSE).any():
        raise ValueError("events.response: a selected row's answer was not read (UNREAD_RESPONSE)")
    edit = (sel["curation_source"] == "user_edit").to_numpy()
    out["response"] = np.where(edit, sel["edited_response"].to_numpy(), out["original_response"])
    for col in ("curation_source", "curation_score", "quality_score", "signal_score", "role"):
        out[col] = sel[col].to_numpy()
    return out[list(CURATED_COLUMNS)]


def _candidate_pool(
    events: pd.DataFrame, quality: pd.DataFrame | None, signals: pd.DataFrame | None
) -> pd.DataFrame:
    """Slim per-event frame (no prompt/response text): copying text at 1M rows costs GBs."""
    resp = events["response"]
    has_text = resp.str.contains(r"\S", regex=True) if resp.dtype != object else None
    if has_text is None:
        has_text = resp.map(lambda v: isinstance(v, str) and bool(v.strip()))
    valid = (
        events["event_id"].notna() & events["prompt"].notna() & has_text.fillna(False)
    ).to_numpy()
    pool = pd.DataFrame({"_pos": np.flatnonzero(valid)})
    pool["event_id"] = events["event_id"].to_numpy()[valid]
    ids = pool["event_id"]
    q = quality_of(quality, ids)
    pool["quality_score"] = q["score"].to_numpy()
    pool["refusal"] = q["refusal"].to_numpy()
    pool["judge_score"] = q["judge_score"].to_numpy()
    agg = aggregate_signals(signals) if signals is not None and len(signals) else None
    if agg is not None and len(agg):
        a = agg.drop_duplicates("event_id").set_index("event_id").reindex(ids.to_numpy())
        pool["signal_score"] = a["signal_score"].fillna(0.0).astype(float).to_numpy()
        for col in ("n_edit", "n_thumbs_down", "n_regenerate"):
            pool[col] = a[col].fillna(0).astype(float).to_numpy()
        pool["reported"] = a["reported"].eq(True).to_numpy()
        pool["edited_response"] = a["edited_response"].to_numpy()
    else:
        pool["signal_score"] = 0.0
        pool["n_edit"] = pool["n_thumbs_down"] = pool["n_regenerate"] = 0.0
        pool["reported"] = False
        pool["edited_response"] = None
    return pool
