"""Reference-vs-current plot: the embedding test plus the top drifting features (PNG, Agg).

A 2 x 2 grid about 760 x 500 px, so it fits the UI's metadata popup without scrolling: the
embedding panel (the words that tell the windows apart, with the MMD verdict) and the
`top_k` highest-scoring tabular features.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from feedback_assets.domain.drift.drift_tests import category_counts
from feedback_assets.domain.records import DriftReport, DriftResult

if TYPE_CHECKING:
    from feedback_assets.domain.drift.drift_features import Features

FIGSIZE = (8.4, 5.6)  # inches; at DPI this is 756 x 504 px
DPI = 90
TERMS_PER_SIDE = 5
REFERENCE_COLOR, CURRENT_COLOR = "tab:blue", "tab:orange"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def _flag(res: DriftResult) -> str:
    return "DRIFT" if res.drifted else res.severity


def _numeric(ax: Any, ref: np.ndarray, cur: np.ndarray) -> None:
    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    both = np.concatenate([r, c])
    if both.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
        return
    lo, hi = np.quantile(both, [0.005, 0.995])
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
    # stepfilled draws one polygon instead of one patch per bin: much faster to render.
    for values, label, color in ((r, "reference", REFERENCE_COLOR), (c, "current", CURRENT_COLOR)):
        ax.hist(values, bins=bins, density=True, alpha=0.5, label=label, color=color,
                histtype="stepfilled")  # fmt: skip


def _bars(ax: Any, labels: list[str], ref: np.ndarray, cur: np.ndarray) -> None:
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ref, width=0.4, label="reference", color=REFERENCE_COLOR)
    ax.bar(x + 0.2, cur, width=0.4, label="current", color=CURRENT_COLOR)
    ax.set_xticks(x, [s[:12] for s in labels], rotation=30, ha="right", fontsize=7)


def _feature(ax: Any, res: DriftResult, reference: Features, current: Features) -> None:
    name = res.feature
    if name in reference.numeric:
        _numeric(ax, reference.numeric[name], current.numeric[name])
    elif name in reference.categorical:
        cats, cr, cc = category_counts(reference.categorical[name], current.categorical[name])
        k = min(len(cats), 6)
        _bars(ax, cats[:k], (cr / cr.sum())[:k], (cc / cc.sum())[:k])
    elif name in reference.binary:
        r, c = reference.binary[name], current.binary[name]
        _bars(ax, ["rate"], np.array([np.nanmean(r)]), np.array([np.nanmean(c)]))
    ax.set_title(f"{name}: {res.test} p={_p(res.p_value)} [{_flag(res)}]", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper right")  # "best" scans all data: seconds per plot


def _embedding(ax: Any, res: DriftResult | None) -> None:
    """The words over-represented in each window (z of the log-odds), with the MMD verdict."""
    if res is None:
        ax.text(0.5, 0.5, "embedding test not run", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    terms = res.details.get("top_terms") or {}
    current = list(terms.get("current") or [])[:TERMS_PER_SIDE]
    reference = list(terms.get("reference") or [])[:TERMS_PER_SIDE]
    # Bottom to top by z: most reference-leaning at the bottom, most current-leaning on top.
    rows = [*reference, *reversed(current)]
    title = f"embedding: MMD p={_p(res.p_value)}, score={res.score:.2f} [{_flag(res)}]"
    ax.set_title(title, fontsize=8)
    if not rows:
        ax.text(0.5, 0.5, res.severity.replace("_", " "), ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    z = np.array([float(t["z"]) for t in rows])
    colors = [CURRENT_COLOR if v > 0 else REFERENCE_COLOR for v in z]
    y = np.arange(len(rows))
    ax.barh(y, z, color=colors, alpha=0.8)
    ax.set_yticks(y, [str(t["term"])[:14] for t in rows], fontsize=7)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("<- more in reference    z (log-odds)    more in current ->", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)


def plot_drift(
    reference: Features, current: Features, report: DriftReport, path: str | Path, top_k: int = 3
) -> Path:
    """Write a PNG: the embedding panel and the `top_k` (at most 3) highest-scoring features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comparable = [r for r in report.results if r.severity != "insufficient_data"]
    ranked = sorted((r for r in comparable if r.type != "embedding"), key=lambda r: -r.score)
    embedding = next((r for r in report.results if r.type == "embedding"), None)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE)
    panels = list(axes.flat)
    _embedding(panels[0], embedding)
    shown = ranked[: max(min(top_k, 3), 1)]
    for ax, res in zip(panels[1:], shown, strict=False):
        _feature(ax, res, reference, current)
    for ax in panels[1 + len(shown) :]:
        ax.text(0.5, 0.5, "no further feature", ha="center", transform=ax.transAxes, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{report.deployment_id or 'drift'}: {report.severity}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out
