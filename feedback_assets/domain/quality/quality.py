"""Heuristic quality scoring: one response (`assess_response`) or a batch (`score_batch`).

The scalar path is plain Python; the batch path runs polars/numpy over bounded chunks.
Both implement the rules documented in `domain.quality_rules` and agree exactly (a
hypothesis property test checks it). `apply_judge` folds LLM-judge scores in where present;
`quality_stats` summarizes a scored frame.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from feedback_assets.domain.quality.quality_batch import DEFAULT_CHUNK_ROWS, score_batch
from feedback_assets.domain.quality.quality_rules import (
    APOSTROPHES_RE,
    CHECKS,
    DEFAULT_REFUSAL_PHRASES,
    EMPTY_RE,
    FORMAT_KINDS,
    GATES,
    LOOKS_JSON_RE,
    MARKDOWN_RE,
    QualityConfig,
    aggregate,
    coerce,
    format_score,
    is_json_container,
    repetition_verdict,
)
from feedback_assets.domain.quality.repetition import (
    repetition_stats,
)

__all__ = [
    "CHECKS",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_REFUSAL_PHRASES",
    "FORMAT_KINDS",
    "GATES",
    "QualityConfig",
    "apply_judge",
    "assess_quality",
    "assess_response",
    "quality_stats",
    "score_batch",
]


def assess_response(response: str | None, config: QualityConfig = QualityConfig()) -> dict:
    """Score one response: {"score", "passed", "hard_fail", "hard_fail_reasons",
    "input_error", "format_kind", "checks": [{"check", "score", "passed", "details"}, ...]}."""
    text, input_error = coerce(response)
    fences = text.count("```")
    kind = _format_kind(text, fences)
    broken = kind != "json" and LOOKS_JSON_RE.match(text) is not None
    f_score, meets = format_score(kind, fences, config, broken)
    refusal_re = re.compile(config.refusal_pattern, re.A)
    m = refusal_re.search(APOSTROPHES_RE.sub("'", text.lower()))
    rep = repetition_verdict(repetition_stats(text, config.extended_repetition), config)
    empty = EMPTY_RE.fullmatch(text) is not None
    hits = (("empty", empty), ("format", not meets), ("refusal", m is not None))
    reasons = [r for r, hit in hits if hit]
    checks = [
        _format_check(kind, fences, f_score, meets, broken, config),
        _length_check(len(text), config),
        {
            "check": "refusal",
            "score": 0.0 if m else 1.0,
            "passed": m is None,
            "details": {"matched": m.group(0) if m else None},
        },
        {"check": "repetition", **rep},
        {"check": "empty", "score": 0.0 if empty else 1.0, "passed": not empty, "details": {}},
    ]
    score = aggregate({c["check"]: c["score"] for c in checks}, bool(reasons), config, empty)
    return {
        "score": score,
        "passed": not reasons
        and all(c["passed"] for c in checks)
        and score >= config.pass_threshold,
        "hard_fail": bool(reasons),
        "hard_fail_reasons": reasons,
        "input_error": input_error,
        "format_kind": kind,
        "checks": checks,
    }


def _format_kind(text: str, fences: int) -> str:
    """json (a parseable container), markdown (fences or markdown syntax), else plain."""
    if is_json_container(text):
        return "json"
    if fences > 0 or MARKDOWN_RE.search(text):
        return "markdown"
    return "plain"


def _format_check(
    kind: str, fences: int, f_score: float, meets: bool, broken: bool, config: QualityConfig
) -> dict:
    return {
        "check": "format",
        "score": f_score,
        "passed": f_score >= 0.7,
        "details": {
            "kind": kind,
            "fences": fences,
            "balanced": fences % 2 == 0,
            "expected": config.expected_format,
            "meets_expected": meets,
            "broken_json": broken,
        },
    }


def _length_check(n_chars: int, config: QualityConfig) -> dict:
    too_short, too_long = n_chars < config.min_length, n_chars > config.max_length
    return {
        "check": "length",
        "score": 0.4 if too_short or too_long else 1.0,
        "passed": not (too_short or too_long),
        "details": {"chars": n_chars, "too_short": too_short, "too_long": too_long},
    }


def assess_quality(event: Any, config: QualityConfig = QualityConfig()) -> dict:
    """Facade: score an InferenceEvent, or a mapping with a "response" key."""
    response = event.get("response") if isinstance(event, dict) else event.response
    return assess_response(response, config)


def apply_judge(
    scored: pd.DataFrame, judge_score: pd.Series, config: QualityConfig = QualityConfig()
) -> pd.DataFrame:
    """Add `judge_score` (aligned on the index; NaN = absent) and recompute `score`/`passed`
    with the judge weight only where a judge score is present — absent never counts as 1.0."""
    judge = pd.to_numeric(judge_score, errors="raise").astype(float)
    if not judge.index.equals(scored.index):
        judge = judge.reindex(scored.index)  # needs unique labels; equal indexes skip this
    bad = judge.notna() & ((judge < 0) | (judge > 1))
    if bad.any():
        raise ValueError(f"judge_score: {int(bad.sum())} value(s) outside [0, 1]")
    total = np.zeros(len(scored))
    for c in CHECKS:
        total = total + config.weights[c] * scored[f"{c}_score"].to_numpy(dtype=float)
    weight = np.full(len(scored), sum(config.weights[c] for c in CHECKS))
    present = judge.notna().to_numpy()
    j = judge.fillna(0.0).to_numpy()
    total = np.where(present, total + config.weights["judge"] * j, total)
    weight = np.where(present, weight + config.weights["judge"], weight)
    score = total / weight
    hard = scored["hard_fail"].to_numpy(dtype=bool)
    score = np.where(hard, np.minimum(score, config.hard_fail_cap), score)
    if "empty_passed" in scored:  # an empty answer stays at 0.0 whatever the judge says
        score = np.where(scored["empty_passed"].to_numpy(bool), score, 0.0)
    out = scored.copy()
    out["judge_score"] = judge.to_numpy()
    out["score"] = score
    all_passed = np.logical_and.reduce([scored[f"{c}_passed"].to_numpy(bool) for c in CHECKS])
    out["passed"] = ~hard & all_passed & (score >= config.pass_threshold)
    return out


def quality_stats(scored: pd.DataFrame) -> dict[str, Any]:
    """Distribution and pass rates of a scored frame; an empty frame is "no data", never 1.0."""
    n = len(scored)
    if n == 0:
        return {"n": 0, "status": "no data"}
    s = scored["score"].astype(float)
    stats: dict[str, Any] = {
        "n": n,
        "status": "ok",
        "mean": float(s.mean()),
        "min": float(s.min()),
        "p10": float(s.quantile(0.10)),
        "p50": float(s.quantile(0.50)),
        "p90": float(s.quantile(0.90)),
        "max": float(s.max()),
        "pass_rate": float(scored["passed"].mean()) if "passed" in scored else None,
        "hard_fail_rate": float(scored["hard_fail"].mean()),
        "pass_rates": {c: float(scored[f"{c}_passed"].mean()) for c in CHECKS},
        "format_kinds": {k: int((scored["format_kind"] == k).sum()) for k in FORMAT_KINDS},
        # empty or whitespace-only answers (a real failure mode), each scored 0.0
        "empty": int((~scored["empty_passed"].astype(bool)).sum())
        if "empty_passed" in scored
        else 0,
    }
    if "judge_score" in scored:
        judged = scored["judge_score"].dropna()
        stats["judge_coverage"] = len(judged) / n
        stats["judge_mean"] = float(judged.mean()) if len(judged) else None
    return stats
