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

from feedback_assets.domain.curation.dedupe import Deduper, dedupe, embed_texts, pair_text
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
)
STRATEGIES: tuple[str, ...] = ("user_edit", "high_quality", "hard_example", "diverse")
USER_EDIT_SCORE = 10.0


def _default_shares() -> Mapping[str, float]:
    return MappingProxyType(
        {"user_edit": 0.25, "high_quality": 0.35, "hard_example": 0.2, "diverse": 0.2}
    )


@dataclass(frozen=True)
class CurationConfig:
    """Selection knobs. `strategy_shares` split `limit`; user edits are always taken first (all of
    them, up to `limit`), and what remains is split among the other strategies by their shares.
    Quota a strategy cannot fill flows to the diverse strategy."""

    limit: int = 1000
    min_quality_score: float = 0.8
    max_hard_quality: float = 0.5
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
    return (
        pd.crosstab(distinct["event_id"], distinct["signal_type"])
        .reindex(columns=list(SIGNAL_TYPES), fill_value=0)
        .astype("int64")
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
) -> pd.DataFrame:
    """Select up to `config.limit` training examples (columns: CURATED_COLUMNS).

    Rows lacking an event_id, prompt or response are skipped (they cannot be examples). Reported
    events are never positives (user_edit, high_quality, diverse); they may be hard examples.
    """
    for col in ("event_id", "deployment_id", "prompt", "response"):
        if col not in events.columns:
            raise ValueError(f"events.{col}: required column is missing")
    if embeddings is not None and len(embeddings) != len(events):
        raise ValueError(
            f"embeddings: {len(embeddings)} rows but events has {len(events)} (must be aligned)"
        )
    pool = _candidate_pool(events, quality, signals)
    cfg = config
    deduper = Deduper(cfg.near_duplicate_threshold, seed=cfg.seed)
    picked = [_take(_edit_candidates(pool), cfg.limit, deduper, "user_edit", events)]
    budgets = _split_budget(cfg, cfg.limit - len(picked[0]))
    hq = _high_quality_candidates(pool[~pool["event_id"].isin(picked[0]["event_id"])], cfg)
    refusal_left = int(
        cfg.max_refusal_share_in_positives * (budgets["high_quality"] + budgets["diverse"])
    )
    hq, refusal_left = _cap_refusals(hq, refusal_left)
    picked.append(_take(hq, budgets["high_quality"], deduper, "high_quality", events))
    hard_mask = (pool["quality_score"] <= cfg.max_hard_quality) | (pool["signal_score"] < 0)
    free = ~pool["event_id"].isin(pd.concat([p["event_id"] for p in picked]))
    hard = _hard_candidates(pool[hard_mask & free])
    picked.append(_take(hard, budgets["hard_example"], deduper, "hard_example", events))
    used = sum(len(p) for p in picked)
    free = ~pool["event_id"].isin(pd.concat([p["event_id"] for p in picked]))
    div, _ = _cap_refusals(
        _diverse_candidates(pool[~hard_mask & ~pool["reported"] & free]), refusal_left
    )
    seeds = pd.concat([picked[0], picked[1]])["_pos"].to_numpy()
    picked.append(_take_diverse(div, cfg.limit - used, deduper, seeds, events, embeddings, cfg))
    parts = [p for p in picked if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CURATED_COLUMNS})
    sel = _trim_refusals(pd.concat(parts, ignore_index=True), cfg.max_refusal_share_in_positives)
    return _materialize(sel, events)


def _edit_candidates(pool: pd.DataFrame) -> pd.DataFrame:
    edits = pool[(pool["n_edit"] > 0) & pool["edited_response"].notna() & ~pool["reported"]]
    edits = edits[edits["edited_response"].astype(str).str.contains(r"\S", regex=True)]
    edits = edits.assign(curation_score=USER_EDIT_SCORE)
    return edits.sort_values(["signal_score", "_pos"], ascending=[False, True], kind="stable")


def _high_quality_candidates(pool: pd.DataFrame, cfg: CurationConfig) -> pd.DataFrame:
    q = pool["quality_score"]
    hq = pool[(q >= cfg.min_quality_score) & (pool["signal_score"] > 0) & ~pool["reported"]]
    hq = hq.assign(curation_score=5.0 * hq["quality_score"] + hq["signal_score"].clip(upper=5.0))
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
    edit = (sel["curation_source"] == "user_edit").to_numpy()
    out["response"] = np.where(edit, sel["edited_response"].to_numpy(), out["original_response"])
    for col in ("curation_source", "curation_score", "quality_score", "signal_score"):
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
    if quality is not None and len(quality):
        qd = quality if "event_id" in quality.columns else quality.reset_index()
        qd = qd.drop_duplicates("event_id", keep="last").set_index("event_id")
        pool["quality_score"] = ids.map(qd["score"]).astype(float).to_numpy()
        refused = qd["refusal_passed"].eq(False) if "refusal_passed" in qd else None
        pool["refusal"] = ids.map(refused).eq(True).to_numpy() if refused is not None else False
    else:
        pool["quality_score"] = np.nan
        pool["refusal"] = False
    agg = aggregate_signals(signals) if signals is not None and len(signals) else None
    if agg is not None and len(agg):
        a = agg.drop_duplicates("event_id").set_index("event_id")
        pool["signal_score"] = ids.map(a["signal_score"]).fillna(0.0).astype(float).to_numpy()
        pool["n_edit"] = ids.map(a["n_edit"]).fillna(0).astype(float).to_numpy()
        pool["reported"] = ids.map(a["reported"]).eq(True).to_numpy()
        pool["edited_response"] = ids.map(a["edited_response"]).to_numpy()
    else:
        pool["signal_score"] = 0.0
        pool["n_edit"] = 0.0
        pool["reported"] = False
        pool["edited_response"] = None
    return pool


def _split_budget(cfg: CurationConfig, remaining: int) -> dict[str, int]:
    names = ("high_quality", "hard_example", "diverse")
    shares = np.array([float(cfg.strategy_shares.get(n, 0.0)) for n in names])
    if remaining <= 0:
        return dict.fromkeys(names, 0)
    shares = shares / shares.sum() if shares.sum() > 0 else np.array([0.0, 0.0, 1.0])
    out = {n: int(np.floor(remaining * s)) for n, s in zip(names, shares, strict=True)}
    out["diverse"] = remaining - out["high_quality"] - out["hard_example"]
    return out


def _cap_refusals(df: pd.DataFrame, allowance: int) -> tuple[pd.DataFrame, int]:
    # Keep only the first `allowance` refusals in rank order.
    ref = df["refusal"].to_numpy(dtype=bool)
    keep = ~ref | (np.cumsum(ref) <= allowance)
    return df[keep], max(0, allowance - int((ref & keep).sum()))


def _trim_refusals(out: pd.DataFrame, max_share: float) -> pd.DataFrame:
    # Positives can fall short of their budget, so re-check the share on the final set.
    pos = out["curation_source"].isin(["high_quality", "diverse"])
    ref = pos & out["refusal"].astype(bool)
    n_pos_total = int((out["curation_source"] != "hard_example").sum())
    allowed = int(np.floor(max_share * n_pos_total))
    if int(ref.sum()) <= allowed:
        return out
    ranked = out[ref].sort_values("curation_score", ascending=False, kind="stable")
    drop = ranked.index[allowed:]
    return out.drop(index=drop)


def _take(
    cands: pd.DataFrame, budget: int, deduper: Deduper, source: str, events: pd.DataFrame
) -> pd.DataFrame:
    kept: list[pd.DataFrame] = []
    need = budget
    step = max(256, 2 * budget)
    for start in range(0, len(cands), step):
        if need <= 0:
            break
        part = cands.iloc[start : start + step]
        rows = events.iloc[part["_pos"].to_numpy()]
        if source == "user_edit":
            rows = rows.assign(response=part["edited_response"].to_numpy())
        mask = deduper.admit(part["event_id"], pair_text(rows), limit=need)
        kept.append(part[mask])
        need -= int(mask.sum())
    out = pd.concat(kept) if kept else cands.iloc[:0]
    return out.assign(curation_source=source)


def _take_diverse(
    cands: pd.DataFrame,
    budget: int,
    deduper: Deduper,
    seed_pos: np.ndarray,
    events: pd.DataFrame,
    embeddings: np.ndarray | None,
    cfg: CurationConfig,
) -> pd.DataFrame:
    """Quality-first greedy: accept a candidate if its cosine distance to every selected example
    (including those picked by earlier strategies) is at least `diverse_min_distance`."""

    def embed(pos: np.ndarray) -> np.ndarray:
        if embeddings is not None:
            return np.asarray(embeddings[pos], dtype=np.float64)
        rows = events.iloc[pos]
        return embed_texts(pair_text(rows).tolist(), seed=cfg.seed)

    selected = [embed(seed_pos)] if len(seed_pos) else []
    max_sim = 1.0 - cfg.diverse_min_distance
    kept_idx: list[int] = []
    step = 2048
    for start in range(0, len(cands), step):
        if len(kept_idx) >= budget:
            break
        part = cands.iloc[start : start + step]
        emb = embed(part["_pos"].to_numpy())
        sim = np.max(emb @ np.vstack(selected).T, axis=1) if selected else np.full(len(part), -1.0)
        rows = events.iloc[part["_pos"].to_numpy()]
        fresh, ids, keys, sigs = deduper.prepare(part["event_id"], pair_text(rows))
        accepted: list[np.ndarray] = []
        for i in np.flatnonzero((sim < max_sim) & fresh):
            if len(kept_idx) >= budget:
                break
            if accepted and float(np.max(np.vstack(accepted) @ emb[i])) >= max_sim:
                continue
            if deduper.try_add(ids[i], keys[i], sigs[i]):
                accepted.append(emb[i])
                kept_idx.append(start + int(i))
        if accepted:
            selected.append(np.vstack(accepted))
    return cands.iloc[kept_idx].assign(curation_source="diverse")
