"""Reference-vs-current plot of the top drifting features (PNG, matplotlib Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from feedback_assets.domain.drift.drift_tests import category_counts
from feedback_assets.domain.records import DriftReport

if TYPE_CHECKING:
    from feedback_assets.domain.drift.drift_features import Features


def _numeric(ax: Any, ref: np.ndarray, cur: np.ndarray) -> None:
    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    both = np.concatenate([r, c])
    if both.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
        return
    lo, hi = np.quantile(both, [0.005, 0.995])
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
    # stepfilled draws one polygon instead of 40 patches: much faster to render.
    ax.hist(r, bins=bins, density=True, alpha=0.5, label="reference", histtype="stepfilled")
    ax.hist(c, bins=bins, density=True, alpha=0.5, label="current", histtype="stepfilled")


def _bars(ax: Any, labels: list[str], ref: np.ndarray, cur: np.ndarray) -> None:
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ref, width=0.4, label="reference")
    ax.bar(x + 0.2, cur, width=0.4, label="current")
    ax.set_xticks(x, [s[:14] for s in labels], rotation=30, ha="right", fontsize=7)


def plot_drift(
    reference: Features, current: Features, report: DriftReport, path: str | Path, top_k: int = 4
) -> Path:
    """Write a PNG comparing reference and current for the `top_k` highest-scoring features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted(
        (r for r in report.results if r.severity != "insufficient_data" and r.type != "embedding"),
        key=lambda r: -r.score,
    )[: max(top_k, 1)]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, max(len(ranked), 1), figsize=(4 * max(len(ranked), 1), 3.2))
    axes_list = list(np.atleast_1d(axes))
    for ax, res in zip(axes_list, ranked, strict=False):
        name = res.feature
        if name in reference.numeric:
            _numeric(ax, reference.numeric[name], current.numeric[name])
        elif name in reference.categorical:
            cats, cr, cc = category_counts(reference.categorical[name], current.categorical[name])
            k = min(len(cats), 8)
            _bars(ax, cats[:k], (cr / cr.sum())[:k], (cc / cc.sum())[:k])
        elif name in reference.binary:
            r, c = reference.binary[name], current.binary[name]
            _bars(ax, ["rate"], np.array([np.nanmean(r)]), np.array([np.nanmean(c)]))
        flag = "DRIFT" if res.drifted else res.severity
        ax.set_title(f"{name}\n{res.test} score={res.score:.2f} [{flag}]", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")  # "best" scans all data: seconds per plot
    if not ranked:
        axes_list[0].text(0.5, 0.5, "no comparable features", ha="center")
    fig.suptitle(f"{report.deployment_id or 'drift'}: {report.severity}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
