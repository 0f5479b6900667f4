"""Embedding drift: RBF-kernel MMD with a permutation p-value, a witness AUC as effect size,
and the words that distinguish the current window (log-odds with an informative prior)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from feedback_assets.domain.drift_config import DriftConfig
from feedback_assets.domain.drift_tests import Outcome
from feedback_assets.domain.embedding import tokenize


def _subsample(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    if x.shape[0] <= k:
        return x
    return x[np.sort(rng.choice(x.shape[0], size=k, replace=False))]


def _clean(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (n, dim) array, got shape {arr.shape}")
    return arr[np.isfinite(arr).all(axis=1)]


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    n1, n0 = pos.size, neg.size
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def mmd_test(reference: np.ndarray, current: np.ndarray, config: DriftConfig) -> Outcome:
    """MMD^2 (biased V-statistic, RBF kernel, median-heuristic bandwidth) with a permutation
    p-value. Score = |2 AUC - 1| of the MMD witness, fitted on one half and scored on the other."""
    rng = np.random.default_rng(config.seed)
    ref = _subsample(_clean(reference, "reference_embeddings"), config.embedding_max_samples, rng)
    cur = _subsample(_clean(current, "current_embeddings"), config.embedding_max_samples, rng)
    if ref.shape[1] != cur.shape[1]:
        raise ValueError(
            f"embeddings: dimension mismatch, reference {ref.shape[1]} vs current {cur.shape[1]}"
        )
    n, m = ref.shape[0], cur.shape[0]
    pooled = np.concatenate([ref, cur]).astype(np.float32)
    sq = np.einsum("ij,ij->i", pooled, pooled)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (pooled @ pooled.T), 0.0)
    # Median heuristic on a seeded sample of pairs (all pairs would cost O(N^2) memory again).
    take = rng.choice(n + m, size=min(n + m, 800), replace=False)
    off = d2[np.ix_(take, take)][np.triu_indices(take.size, k=1)]
    median = float(np.median(off[off > 0])) if np.any(off > 0) else 1.0
    kernel = np.exp(-d2 / median, dtype=np.float32)
    del d2, off
    # Column 0 is the observed split, the rest are label permutations; MMD^2 = s^T K s.
    perms = config.embedding_permutations
    signs = np.empty((n + m, perms + 1), dtype=np.float32)
    base = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)]).astype(np.float32)
    signs[:, 0] = base
    for j in range(1, perms + 1):
        signs[:, j] = base[rng.permutation(n + m)]
    mmd2 = np.einsum("ij,ij->j", signs, kernel @ signs)
    observed = float(mmd2[0])
    exceed = int(np.sum(mmd2[1:] >= observed))
    p_value, p_method = (1 + exceed) / (1 + perms), "permutation"
    null_mean, null_var = float(mmd2[1:].mean()), float(mmd2[1:].var())
    if exceed < 10 and null_mean > 0 and null_var > 0:
        # Far tail: the permutation floor 1/(P+1) would not survive the multiple-testing
        # correction, so use a moment-matched gamma fit to the permutation null (Gretton et al.).
        shape, scale = null_mean**2 / null_var, null_var / null_mean
        p_value, p_method = float(stats.gamma.sf(observed, shape, scale=scale)), "gamma_tail"
    # Witness on halves: mean kernel to current minus to reference, fitted on A, scored on B.
    ia = np.zeros(n + m, dtype=bool)
    ia[rng.permutation(n)[: n // 2]] = True
    ia[n + rng.permutation(m)[: m // 2]] = True
    is_ref = np.arange(n + m) < n
    ref_a, cur_a = ia & is_ref, ia & ~is_ref
    witness = kernel[:, cur_a].mean(axis=1) - kernel[:, ref_a].mean(axis=1)
    auc = _auc(witness[~ia & ~is_ref], witness[~ia & is_ref])
    details: dict[str, Any] = {
        "mmd2": observed,
        "bandwidth_sq": median,
        "permutations": perms,
        "permutations_exceeding": exceed,
        "p_method": p_method,
        "witness_auc": auc,
        "reference_used": n,
        "current_used": m,
    }
    score = float(np.clip(abs(2.0 * auc - 1.0), 0.0, 1.0))
    return Outcome("mmd_permutation", observed, p_value, config.alpha, score, details)


def top_terms(
    reference_texts: Sequence[str], current_texts: Sequence[str], k: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """Words over- and under-represented in current vs reference, by the z-scored log-odds
    ratio with an informative Dirichlet prior (Monroe et al. 2008); rare words are shrunk."""
    rc = tokenize(reference_texts).group_by("tok").len("ref")
    cc = tokenize(current_texts).group_by("tok").len("cur")
    both = rc.join(cc, on="tok", how="full", coalesce=True).fill_null(0)
    if both.height == 0:
        return {"current": [], "reference": []}
    y_r = both["ref"].to_numpy().astype(np.float64)
    y_c = both["cur"].to_numpy().astype(np.float64)
    prior = (y_r + y_c) / (y_r + y_c).sum() * 500.0 + 0.01
    n_r, n_c, a0 = y_r.sum(), y_c.sum(), prior.sum()
    delta = np.log((y_c + prior) / (n_c + a0 - y_c - prior)) - np.log(
        (y_r + prior) / (n_r + a0 - y_r - prior)
    )
    z = delta / np.sqrt(1.0 / (y_c + prior) + 1.0 / (y_r + prior))
    toks = both["tok"].to_list()

    def rows(idx: np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "term": toks[i],
                "z": round(float(z[i]), 3),
                "reference_per_1k": round(float(1000 * y_r[i] / max(n_r, 1)), 3),
                "current_per_1k": round(float(1000 * y_c[i] / max(n_c, 1)), 3),
            }
            for i in idx
        ]

    order = np.argsort(-z)
    return {"current": rows(order[:k]), "reference": rows(order[::-1][:k])}
