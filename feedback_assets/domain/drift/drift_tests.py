"""Two-sample drift tests on numpy arrays, vectorized.

Numeric columns are sorted (or bin-counted, for integer data) once; KS, normed Wasserstein and
PSI are all read off the same two empirical CDFs. Every test returns an `Outcome` whose `score`
is a total-variation-like effect size in [0, 1] (KS D, TVD, |p1 - p2|), so scores of different
tests are comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats
from scipy.spatial.distance import jensenshannon

from feedback_assets.domain.drift.drift_config import DriftConfig

_MAX_INT_RANGE = 4_000_000  # integer columns spanning less than this use bincount CDFs


@dataclass(frozen=True)
class Outcome:
    test: str
    statistic: float
    p_value: float | None  # None for distance tests (not part of the multiple-testing family)
    threshold: float | None
    score: float
    details: dict[str, Any] = field(default_factory=dict)


def is_large(n_ref: int, n_cur: int, config: DriftConfig) -> bool:
    """Evidently's rule, on the smaller window: power is set by the smaller sample."""
    return min(n_ref, n_cur) > config.large_sample_size


# ---------------------------------------------------------------- numeric


@dataclass(frozen=True)
class _Cdfs:
    """Both empirical CDFs evaluated on the sorted union grid `x` (ascending)."""

    x: np.ndarray
    f_ref: np.ndarray
    f_cur: np.ndarray


def _cdfs(ref: np.ndarray, cur: np.ndarray) -> _Cdfs:
    lo = min(ref.min(), cur.min())
    hi = max(ref.max(), cur.max())
    integral = (
        hi - lo < _MAX_INT_RANGE
        and bool(np.all(ref == np.floor(ref)))
        and bool(np.all(cur == np.floor(cur)))
    )
    if integral:
        # Lengths and token counts: O(n) counting instead of O(n log n) sorting.
        size = int(hi - lo) + 1
        c_ref = np.bincount((ref - lo).astype(np.int64), minlength=size)
        c_cur = np.bincount((cur - lo).astype(np.int64), minlength=size)
        keep = (c_ref + c_cur) > 0
        x = (np.arange(size, dtype=np.float64) + lo)[keep]
        f_ref = np.cumsum(c_ref)[keep] / ref.size
        f_cur = np.cumsum(c_cur)[keep] / cur.size
        return _Cdfs(x, f_ref, f_cur)
    # Two sorted runs: a stable argsort merges them in O(n) (timsort), and running counts of
    # each side give both CDFs; ties are read at the last index of each run of equal values.
    merged = np.concatenate([np.sort(ref), np.sort(cur)])
    order = np.argsort(merged, kind="stable")
    x = merged[order]
    from_ref = order < ref.size
    last = np.empty(x.size, dtype=bool)
    last[:-1] = x[1:] != x[:-1]
    last[-1] = True
    f_ref = np.cumsum(from_ref)[last] / ref.size
    f_cur = np.cumsum(~from_ref)[last] / cur.size
    return _Cdfs(x[last], f_ref, f_cur)


def _psi_numeric(cdfs: _Cdfs, bins: int) -> tuple[float, list[float]]:
    """PSI on reference quantile edges (open outer bins), Laplace-smoothed."""
    qs = np.arange(1, bins) / bins
    idx = np.minimum(np.searchsorted(cdfs.f_ref, qs - 1e-12, side="left"), cdfs.x.size - 1)
    edges = np.unique(cdfs.x[idx])
    # Share of each window <= each edge, read off the CDFs; bins are (-inf, e1], ..., (ek, inf).
    pos = np.searchsorted(cdfs.x, edges, side="right") - 1
    cum_ref = np.concatenate([[0.0], cdfs.f_ref[pos], [1.0]])
    cum_cur = np.concatenate([[0.0], cdfs.f_cur[pos], [1.0]])
    return _psi(np.diff(cum_ref), np.diff(cum_cur)), [float(e) for e in edges]


def _psi(p_ref: np.ndarray, p_cur: np.ndarray, pseudo: float = 1e-4) -> float:
    # Laplace smoothing on proportions keeps empty bins finite without clamping.
    k = p_ref.size
    a = (np.clip(p_ref, 0, None) + pseudo) / (1 + k * pseudo)
    b = (np.clip(p_cur, 0, None) + pseudo) / (1 + k * pseudo)
    return float(np.sum((b - a) * np.log(b / a)))


def numeric_test(ref: np.ndarray, cur: np.ndarray, config: DriftConfig) -> Outcome:
    """KS at small n, normed Wasserstein at large n; PSI and the other statistic in details."""
    n, m = ref.size, cur.size
    large = is_large(n, m, config)
    cdfs = _cdfs(ref, cur)
    gaps = np.abs(cdfs.f_ref - cdfs.f_cur)
    ks_d = float(gaps.max())
    wasserstein = float(np.sum(gaps[:-1] * np.diff(cdfs.x)))
    std_ref = float(ref.std())
    scale = std_ref if std_ref > 0 else float(np.concatenate([ref, cur]).std())
    normed_w = wasserstein / scale if scale > 0 else 0.0
    psi, edges = _psi_numeric(cdfs, config.psi_bins)
    details: dict[str, Any] = {
        "ks_statistic": ks_d,
        "wasserstein_normed": normed_w,
        "psi": psi,
        "psi_edges": edges,
        "reference_mean": float(ref.mean()),
        "current_mean": float(cur.mean()),
        "reference_std": std_ref,
        "current_std": float(cur.std()),
        "constant": bool(cdfs.x.size == 1),
    }
    if large:
        en = math.sqrt(n * m / (n + m))
        details["ks_p_value"] = float(stats.kstwobign.sf(en * ks_d))
        return Outcome(
            "wasserstein_normed", normed_w, None, config.wasserstein_threshold, ks_d, details
        )
    if cdfs.x.size == 1:
        return Outcome("ks", 0.0, 1.0, config.alpha, 0.0, details)
    p = float(stats.ks_2samp(ref, cur).pvalue)
    return Outcome("ks", ks_d, p, config.alpha, ks_d, details)


# ---------------------------------------------------------------- categorical


def _counts(values: np.ndarray | pd.Categorical) -> pd.Series:
    if isinstance(values, pd.Categorical):
        # Codes are already small ints: bincount instead of hashing strings.
        counts = np.bincount(values.codes + 1, minlength=len(values.categories) + 1)[1:]
        return pd.Series(counts, index=values.categories.astype(str), dtype=np.float64)
    arr = pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)
    vc = pc.value_counts(arr)
    keys = vc.field("values").to_pylist()
    return pd.Series(vc.field("counts").to_numpy(), index=[str(k) for k in keys], dtype=np.float64)


def category_counts(
    ref: np.ndarray | pd.Categorical, cur: np.ndarray | pd.Categorical
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts of each category (union, sorted by reference frequency) in both windows."""
    both = pd.concat([_counts(ref).rename("ref"), _counts(cur).rename("cur")], axis=1).fillna(0)
    both = both[(both["ref"] + both["cur"]) > 0].sort_values(["ref", "cur"], ascending=False)
    cats = [str(c) for c in both.index]
    return cats, both["ref"].to_numpy(np.float64), both["cur"].to_numpy(np.float64)


def _pool_sparse(table: np.ndarray, min_expected: float = 5.0) -> np.ndarray:
    """Merge categories with an expected count below 5 into one column (Cochran's rule): the
    chi-square approximation is anti-conservative on sparse cells."""
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    sparse_cols = (expected < min_expected).any(axis=0)
    if not sparse_cols.any():
        return table
    pooled = table[:, sparse_cols].sum(axis=1, keepdims=True)
    return np.hstack([table[:, ~sparse_cols], pooled])


def categorical_test(
    ref: np.ndarray | pd.Categorical, cur: np.ndarray | pd.Categorical, config: DriftConfig
) -> Outcome:
    """Chi-square (2 x k contingency) at small n, Jensen-Shannon distance at large n."""
    cats, c_ref, c_cur = category_counts(ref, cur)
    p_ref = c_ref / c_ref.sum()
    p_cur = c_cur / c_cur.sum()
    tvd = float(0.5 * np.abs(p_ref - p_cur).sum())
    top = np.argsort(-np.abs(p_cur - p_ref))[:10]
    details: dict[str, Any] = {
        "categories": len(cats),
        "psi": _psi(p_ref, p_cur),
        "top_changes": [
            {"category": cats[i], "reference": float(p_ref[i]), "current": float(p_cur[i])}
            for i in top
        ],
        "constant": len(cats) == 1,
    }
    if is_large(len(ref), len(cur), config):
        js = float(jensenshannon(p_ref, p_cur)) if len(cats) > 1 else 0.0
        return Outcome("jensenshannon", js, None, config.jensenshannon_threshold, tvd, details)
    if len(cats) == 1:
        return Outcome("chi_square", 0.0, 1.0, config.alpha, 0.0, details)
    table = _pool_sparse(np.vstack([c_ref, c_cur]))
    if table.shape[1] == 1:
        return Outcome("chi_square", 0.0, 1.0, config.alpha, tvd, {**details, "pooled": True})
    res = stats.chi2_contingency(table, correction=False)
    details.update(dof=int(res.dof), pooled_categories=len(cats) - table.shape[1] + 1)
    return Outcome(
        "chi_square", float(res.statistic), float(res.pvalue), config.alpha, tvd, details
    )


# ---------------------------------------------------------------- binary


def proportion_test(ref: np.ndarray, cur: np.ndarray, config: DriftConfig) -> Outcome:
    """Two-proportion z-test (pooled) at small n, Jensen-Shannon on {0, 1} at large n."""
    n, m = ref.size, cur.size
    p1, p2 = float(ref.mean()), float(cur.mean())
    diff = abs(p2 - p1)
    details: dict[str, Any] = {
        "reference_rate": p1,
        "current_rate": p2,
        "reference_count": int(ref.sum()),
        "current_count": int(cur.sum()),
    }
    if is_large(n, m, config):
        js = float(jensenshannon([1 - p1, p1], [1 - p2, p2])) if diff > 0 else 0.0
        return Outcome("jensenshannon", js, None, config.jensenshannon_threshold, diff, details)
    pooled = (ref.sum() + cur.sum()) / (n + m)
    var = pooled * (1 - pooled) * (1 / n + 1 / m)
    if var <= 0:
        return Outcome("z_test", 0.0, 1.0, config.alpha, 0.0, {**details, "constant": True})
    z = (p2 - p1) / math.sqrt(var)
    p = float(2 * stats.norm.sf(abs(z)))
    return Outcome("z_test", float(z), p, config.alpha, diff, details)


# ---------------------------------------------------------------- correction


def adjust_p_values(
    p_values: np.ndarray, method: str, weights: np.ndarray | None = None
) -> np.ndarray:
    """Family-wise adjusted p-values, capped at 1: Holm (weighted), Bonferroni (weighted),
    Benjamini-Hochberg, or none. An adjusted p below alpha rejects at family level alpha.

    Weights (positive, any scale; equal by default) give each test its share of alpha:
    weighted Bonferroni rejects when p_i <= w_i alpha; weighted Holm (Holm 1979) steps down in
    the order of p_i / w_i, testing each at w_i alpha / (weights not yet rejected). Both control
    the family-wise error at alpha under any dependence between the tests. BH ignores weights.
    """
    p = np.asarray(p_values, dtype=np.float64)
    k = p.size
    if k == 0 or method == "none":
        return p.copy()
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != p.shape or not np.all(w > 0):
        raise ValueError(f"weights: expected {k} positive values, got {w!r}")
    w = w / w.sum()
    if method == "bonferroni":
        return np.minimum(p / w, 1.0)
    if method == "holm":
        order = np.argsort(p / w, kind="stable")
        remaining = np.cumsum(w[order][::-1])[::-1]  # weight of the tests not yet rejected
        stepped = np.maximum.accumulate(p[order] * remaining / w[order])
        out = np.empty(k)
        out[order] = np.minimum(stepped, 1.0)
        return out
    order = np.argsort(p)
    ranked = p[order] * k / np.arange(1, k + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(k)
    out[order] = np.minimum(ranked, 1.0)
    return out
