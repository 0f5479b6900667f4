"""Selection helpers of curation: budgets, refusal caps, dedupe-aware taking, diverse greedy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feedback_assets.domain.curation.dedupe import Deduper, embed_texts, pair_text

if TYPE_CHECKING:
    from feedback_assets.domain.curation.curation import CurationConfig


Embed = Callable[[list[str]], "np.ndarray | None"]  # texts -> vectors (None: unavailable)


class RowVectors:
    """Vectors of some rows of the events frame, looked up by row position like an aligned
    matrix: only rows that can become sft seeds or diverse picks are ever embedded."""

    def __init__(self, rows: np.ndarray, vectors: np.ndarray, n_rows: int) -> None:
        if len(rows) != len(vectors):
            raise ValueError(f"vectors: {len(vectors)} rows for {len(rows)} positions")
        self._slot = pd.Series(np.arange(len(rows)), index=rows)
        self._vectors, self._n = vectors, n_rows

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, pos: np.ndarray) -> np.ndarray:
        slots = self._slot.reindex(np.asarray(pos))
        if slots.isna().any():
            raise KeyError(f"embeddings: rows {list(slots.index[slots.isna()][:5])} not embedded")
        return self._vectors[slots.to_numpy(dtype=np.int64)]


EMBED_CHUNK = 8192  # texts per embed call: tokenizing 50k answers at once took ~500 MB


def embed_rows(rows: np.ndarray, events: pd.DataFrame, embed: Embed) -> RowVectors | None:
    """The rows' prompt + response vectors, EMBED_CHUNK texts per call (None when the embedder
    is unavailable for any of them: curation then uses its own hashed vectors for every row,
    never a mix)."""
    parts = []
    for start in range(0, max(len(rows), 1), EMBED_CHUNK):
        vectors = embed(pair_text(events.iloc[rows[start : start + EMBED_CHUNK]]).tolist())
        if vectors is None:
            return None
        parts.append(np.asarray(vectors))
    return RowVectors(rows, np.concatenate(parts), len(events))


def split_budget(cfg: CurationConfig, remaining: int) -> dict[str, int]:
    names = ("high_quality", "hard_example", "diverse")
    shares = np.array([float(cfg.strategy_shares.get(n, 0.0)) for n in names])
    if remaining <= 0:
        return dict.fromkeys(names, 0)
    shares = shares / shares.sum() if shares.sum() > 0 else np.array([0.0, 0.0, 1.0])
    out = {n: int(np.floor(remaining * s)) for n, s in zip(names, shares, strict=True)}
    out["diverse"] = remaining - out["high_quality"] - out["hard_example"]
    return out


def cap_refusals(df: pd.DataFrame, allowance: int) -> tuple[pd.DataFrame, int]:
    # Keep only the first `allowance` refusals in rank order.
    ref = df["refusal"].to_numpy(dtype=bool)
    keep = ~ref | (np.cumsum(ref) <= allowance)
    return df[keep], max(0, allowance - int((ref & keep).sum()))


def trim_refusals(out: pd.DataFrame, max_share: float) -> pd.DataFrame:
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


def take(
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


def take_diverse(
    cands: pd.DataFrame,
    budget: int,
    deduper: Deduper,
    seed_pos: np.ndarray,
    events: pd.DataFrame,
    embeddings: np.ndarray | RowVectors | None,
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
