"""Drift detection: a fixed reference window vs the current window, many features, automatic
test choice by sample size, multiple-testing correction, embedding drift, one verdict with reasons.

Pure (numpy/pandas/polars/scipy). Feature extraction lives in drift_features, the statistical
tests in drift_tests, embedding drift in embedding_drift, the plot in drift_plot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_features import Features, build_features, select_reference
from feedback_assets.domain.drift.drift_plot import plot_drift
from feedback_assets.domain.drift.drift_tests import (
    Outcome,
    adjust_p_values,
    categorical_test,
    numeric_test,
    proportion_test,
)
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.domain.drift.embedding_drift import mmd_test, top_terms
from feedback_assets.domain.drift.novelty import novelty_test
from feedback_assets.domain.drift.units import independent_units
from feedback_assets.domain.records import DriftReport, DriftResult, Severity

__all__ = [
    "DriftConfig",
    "Features",
    "build_features",
    "compare_features",
    "detect_drift_frames",
    "embedding_texts",
    "independent_units",
    "unit_features",
    "plot_drift",
    "results_frame",
    "results_from_frame",
    "select_reference",
]

RESULT_COLUMNS: tuple[str, ...] = (
    "deployment_id", "type", "feature", "test", "statistic", "p_value", "threshold", "score",
    "drifted", "severity", "details",
)  # fmt: skip
_TEST_LABEL = {
    "ks": "KS",
    "chi_square": "chi-square",
    "z_test": "two-proportion z",
    "wasserstein_normed": "normed Wasserstein",
    "jensenshannon": "Jensen-Shannon",
    "mmd_permutation": "MMD permutation",
    "novelty_share": "novelty share",
}
ResultType = Literal["statistical", "embedding", "output", "feedback"]
# Tests on the windows' texts (prompt + response), run next to the embedding MMD test and
# corrected with the rest. A new text test is one entry here, its function, and its tests.
TextTest = Callable[[Sequence[str], Sequence[str], DriftConfig], Outcome]
TEXT_TESTS: tuple[tuple[str, TextTest], ...] = (("novelty", novelty_test),)
_Pending = tuple[ResultType, str, Outcome | None, int, int, dict[str, Any]]


def _insufficient(n_ref: int, n_cur: int, config: DriftConfig, what: str = "") -> dict[str, Any]:
    reason = what or (
        f"reference has {n_ref} values, current {n_cur}; need >= {config.min_samples} each"
    )
    return {"reason": reason, "reference_n": n_ref, "current_n": n_cur}


def _tabular(reference: Features, current: Features, config: DriftConfig) -> list[_Pending]:
    pending: list[_Pending] = []
    groups: list[tuple[Mapping[str, Any], Mapping[str, Any], Callable[..., Outcome], bool]] = [
        (reference.numeric, current.numeric, numeric_test, True),
        (reference.categorical, current.categorical, categorical_test, False),
        (reference.binary, current.binary, proportion_test, True),
    ]
    for ref_cols, cur_cols, test, drop_nan in groups:
        for name in [*ref_cols, *(c for c in cur_cols if c not in ref_cols)]:
            kind = reference.types.get(name) or current.types.get(name, "statistical")
            if name not in ref_cols or name not in cur_cols:
                side = "reference" if name not in ref_cols else "current"
                info = _insufficient(0, 0, config, f"feature absent from the {side} window")
                pending.append((kind, name, None, 0, 0, info))
                continue
            r, c = ref_cols[name], cur_cols[name]
            extra: dict[str, Any] = {}
            if drop_nan:
                extra = {
                    "reference_missing": int(np.isnan(r).sum()),
                    "current_missing": int(np.isnan(c).sum()),
                }
                r, c = r[~np.isnan(r)], c[~np.isnan(c)]
            n_r, n_c = len(r), len(c)
            if min(n_r, n_c) < config.min_samples:
                pending.append((kind, name, None, n_r, n_c, _insufficient(n_r, n_c, config)))
                continue
            pending.append((kind, name, test(r, c, config), n_r, n_c, extra))
    return pending


def _embedding(
    ref_emb: np.ndarray | None, cur_emb: np.ndarray | None,
    ref_texts: Sequence[str] | None, cur_texts: Sequence[str] | None, config: DriftConfig,
) -> list[_Pending]:  # fmt: skip
    if ref_emb is None or cur_emb is None:
        return []
    n_ref, n_cur = int(np.asarray(ref_emb).shape[0]), int(np.asarray(cur_emb).shape[0])
    if min(n_ref, n_cur) < config.min_samples:
        return [("embedding", "embedding", None, n_ref, n_cur, _insufficient(n_ref, n_cur, config))]
    outcome = mmd_test(ref_emb, cur_emb, config)
    if ref_texts is None or cur_texts is None:
        return [("embedding", "embedding", outcome, n_ref, n_cur, {})]
    extra: dict[str, Any] = {"top_terms": top_terms(ref_texts, cur_texts)}
    out: list[_Pending] = [("embedding", "embedding", outcome, n_ref, n_cur, extra)]
    for name, test in TEXT_TESTS:
        out.append(
            (
                "embedding",
                name,
                test(ref_texts, cur_texts, config),
                len(ref_texts),
                len(cur_texts),
                {},
            )
        )
    return out


def _severity(o: Outcome, p_adj: float | None, config: DriftConfig) -> tuple[bool, Severity]:
    psi = float(o.details.get("psi", 0.0))
    if p_adj is not None:
        drifted = p_adj < config.alpha
        possible = p_adj < 2 * config.alpha or psi >= 0.2
    else:
        threshold = o.threshold if o.threshold is not None else math.inf
        drifted = o.statistic >= threshold
        possible = o.statistic >= threshold / 2 or psi >= 0.2
    return drifted, "drift" if drifted else ("possible" if possible else "none")


def _reason(r: DriftResult, correction: str) -> str:
    label = _TEST_LABEL.get(r.test, r.test)
    d = r.details
    if r.p_value is not None:
        tag = {"holm": "Holm", "bh": "BH", "bonferroni": "Bonferroni", "none": "uncorrected"}[
            correction
        ]
        head = (
            f"{r.feature}: {label} p={r.p_value:.2g} ({tag} p={d.get('p_adjusted', r.p_value):.2g})"
        )
    else:
        op = ">=" if r.drifted else "<"
        head = f"{r.feature}: {label} {r.statistic:.3g} {op} {r.threshold:g}"
    if "reference_mean" in d:
        head += f", mean {d['reference_mean']:.4g} -> {d['current_mean']:.4g}"
    elif "reference_rate" in d:
        head += f", rate {d['reference_rate']:.1%} -> {d['current_rate']:.1%}"
    elif d.get("top_changes"):
        t = d["top_changes"][0]
        head += f", '{t['category']}' {t['reference']:.1%} -> {t['current']:.1%}"
    elif d.get("examples"):  # novelty: what the new texts are about
        head += f", {d['novel_share']:.1%} novel (expected {d['expected_share']:.1%}), e.g. "
        head += " | ".join(repr(e[:80]) for e in d["examples"][:2])
    elif d.get("top_terms", {}).get("current"):
        head += ", more of: " + ", ".join(t["term"] for t in d["top_terms"]["current"][:5])
    return head


def _alpha_weights(is_text: list[bool], config: DriftConfig) -> np.ndarray:
    """Each test's share of the family's alpha: `text_share` split over the text tests, the
    rest over the per-feature tests (all equal when one group is empty)."""
    flags = np.array(is_text, dtype=bool)
    n_text, n_other = int(flags.sum()), int((~flags).sum())
    if n_text == 0 or n_other == 0:
        return np.full(flags.size, 1.0 / max(flags.size, 1))
    return np.where(flags, config.text_share / n_text, (1 - config.text_share) / n_other)


def compare_features(
    reference: Features,
    current: Features,
    config: DriftConfig = DriftConfig(),
    reference_embeddings: np.ndarray | None = None,
    current_embeddings: np.ndarray | None = None,
    reference_texts: Sequence[str] | None = None,
    current_texts: Sequence[str] | None = None,
    deployment_id: str = "",
) -> DriftReport:
    """Test every feature present in both windows; the verdict corrects across every p-value
    test (weighted Holm by default: family-wise error <= alpha whatever their dependence).
    Each result keeps its own p-value; details hold the adjusted one and its alpha share."""
    pending = _tabular(reference, current, config) + _embedding(
        reference_embeddings, current_embeddings, reference_texts, current_texts, config
    )
    tested = [i for i, p in enumerate(pending) if p[2] is not None and p[2].p_value is not None]
    raw = np.array([pending[i][2].p_value for i in tested], dtype=np.float64)  # type: ignore[union-attr]
    weights = _alpha_weights([pending[i][0] == "embedding" for i in tested], config)
    adjusted = dict(
        zip(tested, adjust_p_values(raw, config.correction, weights).tolist(), strict=True)
    )
    results: list[DriftResult] = []
    for i, (kind, name, outcome, n_ref, n_cur, extra) in enumerate(pending):
        base = {"reference_n": n_ref, "current_n": n_cur, **extra}
        if outcome is None:
            results.append(
                DriftResult(
                    kind, name, "none", math.nan, None, None, 0.0, False, "insufficient_data", base
                )
            )
            continue
        details = {**outcome.details, **base}
        if i in adjusted:
            details.update(
                p_adjusted=adjusted[i],
                correction=config.correction,
                alpha_share=round(float(weights[tested.index(i)]), 6),
            )
        drifted, severity = _severity(outcome, adjusted.get(i), config)
        results.append(
            DriftResult(
                kind,
                name,
                outcome.test,
                outcome.statistic,
                outcome.p_value,
                outcome.threshold,
                outcome.score,
                drifted,
                severity,
                details,
            )  # fmt: skip
        )
    return _report(results, deployment_id, reference.size, current.size, config)


def _report(
    results: list[DriftResult], deployment_id: str, n_ref: int, n_cur: int, config: DriftConfig
) -> DriftReport:
    valid = [r for r in results if r.severity != "insufficient_data"]
    drifted = [r for r in valid if r.drifted]
    severity: Severity
    if drifted:
        severity = "drift"
    elif any(r.severity == "possible" for r in valid):
        severity = "possible"
    elif valid:
        severity = "none"
    else:
        severity = "insufficient_data"
    ranked = sorted(valid, key=lambda r: -r.score)
    reasons = [_reason(r, config.correction) for r in ranked if r.drifted]
    reasons += [
        "possible: " + _reason(r, config.correction) for r in ranked if r.severity == "possible"
    ]
    if not valid:
        reasons.append(
            f"insufficient data: reference {n_ref} events, current {n_cur}; "
            f"need >= {config.min_samples} per feature"
        )
    score = max((r.score for r in valid), default=0.0)
    return DriftReport(
        deployment_id, bool(drifted), severity, float(score), reasons, results, n_ref, n_cur
    )


def embedding_texts(
    events: pd.DataFrame, max_samples: int, seed: int, per_user_cap: int = 10
) -> list[str] | None:
    """prompt + response texts for the embedding test: one event per distinct prompt, at most
    `per_user_cap` events per user
    (one heavy user's burst must not read as topic drift; skipped when it would drop most of
    the window), then a seeded sample of max_samples."""
    cols = [c for c in ("prompt", "response") if c in events.columns]
    if not cols or events.empty:
        return None
    # Regenerations repeat their prompt: near-duplicate pairs inside a window break the
    # independence both the permutation and the held-out AUC test rely on.
    take = events.drop_duplicates(subset="prompt") if "prompt" in events.columns else events
    if "user_id" in take.columns and per_user_cap > 0:
        users = take["user_id"].astype("string").fillna("")
        capped = (users.groupby(users).cumcount() < per_user_cap) | (users == "")
        # When most traffic shares a few ids (e.g. "anonymous"), the ids say nothing: no cap.
        if capped.sum() >= 0.5 * len(take):
            take = take[capped.to_numpy()]
    if len(take) > max_samples:
        take = take.sample(n=max_samples, random_state=seed).sort_index()
    joined = take[cols[0]].astype("string").fillna("")
    for c in cols[1:]:
        joined = joined + "\n" + take[c].astype("string").fillna("")
    return joined.tolist()


def unit_features(
    events: pd.DataFrame,
    quality: pd.DataFrame | None,
    signals: pd.DataFrame | None,
    config: DriftConfig,
) -> Features:
    """The per-feature tests' inputs on independent units (one event per prompt and session);
    the size stays the window's event count, which the history reports."""
    features = build_features(independent_units(events), quality, signals, config)
    return replace(features, size=len(events))


def detect_drift_frames(
    reference_events: pd.DataFrame,
    current_events: pd.DataFrame,
    *,
    reference_quality: pd.DataFrame | None = None,
    current_quality: pd.DataFrame | None = None,
    reference_signals: pd.DataFrame | None = None,
    current_signals: pd.DataFrame | None = None,
    embed: Callable[[list[str]], np.ndarray | None] | None = None,
    config: DriftConfig = DriftConfig(),
    deployment_id: str = "",
) -> DriftReport:
    """Features + embeddings of both windows, then `compare_features`. `embed` defaults to the
    offline `hashing_embed`; texts (prompt + response) are subsampled to embedding_max_samples.
    An `embed` that returns None (its endpoint is down) skips the embedding tests. The
    per-feature tests see one event per prompt and session (`independent_units`)."""
    embedder = embed or hashing_embed
    ref = unit_features(reference_events, reference_quality, reference_signals, config)
    cur = unit_features(current_events, current_quality, current_signals, config)
    k = config.embedding_max_samples
    ref_texts = embedding_texts(reference_events, k, config.seed)
    cur_texts = embedding_texts(current_events, k, config.seed + 1)
    ref_emb = cur_emb = None
    if ref_texts is not None and cur_texts is not None:
        ref_emb = embedder(ref_texts)
        cur_emb = embedder(cur_texts) if ref_emb is not None else None
    return compare_features(ref, cur, config, ref_emb, cur_emb, ref_texts, cur_texts, deployment_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def results_frame(report: DriftReport) -> pd.DataFrame:
    """One row per DriftResult, details as JSON text (NaN/inf -> null)."""
    rows = [
        {
            "deployment_id": report.deployment_id,
            "type": r.type,
            "feature": r.feature,
            "test": r.test,
            "statistic": r.statistic,
            "p_value": r.p_value,
            "threshold": r.threshold,
            "score": r.score,
            "drifted": r.drifted,
            "severity": r.severity,
            "details": json.dumps(_jsonable(r.details), allow_nan=False, sort_keys=True),
        }
        for r in report.results
    ]
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for col in ("statistic", "p_value", "threshold", "score"):
        frame[col] = frame[col].astype("float64")
    frame["drifted"] = frame["drifted"].astype(bool)
    return frame


def results_from_frame(frame: pd.DataFrame) -> list[DriftResult]:
    """Inverse of `results_frame` (details parsed back from JSON)."""

    def opt(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    return [
        DriftResult(
            row["type"],
            row["feature"],
            row["test"],
            float(row["statistic"]),
            opt(row["p_value"]),
            opt(row["threshold"]),
            float(row["score"]),
            bool(row["drifted"]),
            row["severity"],
            json.loads(row["details"]),
        )  # fmt: skip
        for row in frame.to_dict("records")
    ]
