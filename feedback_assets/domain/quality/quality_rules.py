"""Quality rules shared by the scalar and batch scorers in `domain.quality`.

Scoring rules (all configurable through `QualityConfig`):
- format: valid JSON object/array 1.0; markdown with balanced ``` fences 0.9, unbalanced 0.5;
  plain 0.7. Passes at >= 0.7. With `expected_format` set, output that is not of that
  format ("json": not valid JSON; "markdown": unbalanced fences) scores 0.0 and hard-fails.
  Output that starts like JSON (LOOKS_JSON: `{"`, `{'`, `{}`, `[{`, `[[`, `["`, `[]`, `[1,`,
  `[true,` ...; single quotes: a Python repr where JSON was meant) but does not parse is broken JSON (a cut-off answer): 0.0 and a hard fail
  whatever the declared format. A bare `[` or `{` before prose (`[1] Smith`, `[link](url)`)
  is not enough to look like JSON.
- empty (a gate, not weighted): empty or whitespace-only output (no word) scores 0.0 on its
  own check, hard-fails, and sets the aggregate to 0.0 (missing and non-text values too).
- length: characters within [min_length, max_length] 1.0, else 0.4 (too_short/too_long).
- refusal: a phrase of the bank found (in the lowercased text, curly apostrophes folded) -> 0.0 and
  a hard fail, so a refusal can never rank as a good example.
- repetition: the original's trigram-uniqueness ratio from `repetition_min_words` words
  (below that it is not applicable and counts as 1.0); Gopher top-n-gram limits from
  `gopher_min_words` words and the duplicated-line limit cap the score at 0.4.
  Passes when the ratio >= min_trigram_ratio and no limit is exceeded.
- aggregate: weighted mean of the check scores (the judge joins only where present, see
  `apply_judge`); a hard fail (also: empty or missing response) caps it at hard_fail_cap.
  `passed` = no hard fail, every check passed, and score >= pass_threshold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import orjson
import polars as pl

from feedback_assets.domain.quality.repetition import NGRAM_SIZES

# Matched against the lowercased text (so written in lowercase), with ASCII word boundaries.
DEFAULT_REFUSAL_PHRASES: tuple[str, ...] = (
    # the original library's four
    r"\bi(?: cannot| can't| can not|'m unable to| am unable to)\b",
    r"\bi apologi[sz]e,? but\b",
    r"\bas an ai\b",
    r"\bi (?:don't|do not) have the (?:ability|capability|capacity)\b",
    # extensions
    r"\bi(?:'m| am) (?:sorry|afraid),? (?:but )?i (?:can't|cannot|won't|will not|am not able)\b",
    r"\bi(?:'m| am) not able to\b",
    r"\bi (?:won't|will not) be able to\b",
    r"\bi must (?:decline|refuse)\b",
    r"\bi(?:'m| am) not (?:allowed|permitted) to\b",
    r"\bas an? (?:ai|artificial intelligence|large language model|language model)\b",
    r"\b(?:against|violates) my (?:guidelines|programming|policies|policy)\b",
    r"\b(?:this|that|your) request (?:violates|goes against|is against)\b",
    r"\bunable to (?:comply|assist|help) with (?:this|that|your)\b",
)
CHECKS: tuple[str, ...] = ("format", "length", "refusal", "repetition")  # weighted
GATES: tuple[str, ...] = ("empty",)  # not weighted: a failing gate zeroes the aggregate
FORMAT_KINDS: tuple[str, ...] = ("json", "markdown", "plain")
JSON_WS = " \t\n\r"
APOSTROPHES = "[\u2018\u2019\u02bc\u2032]"
# Starts like a JSON container (same matches in Python `re` and Rust): see the module doc.
_WS = r"[ \t\n\r]*"
_SCALAR = r"(?:-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null)"
LOOKS_JSON = rf"""^{_WS}(?:\{{{_WS}["'}}]|\[{_WS}(?:[\[{{"'\]]|{_SCALAR}{_WS},))"""
LOOKS_JSON_RE = re.compile(LOOKS_JSON)
# Whitespace-only, Unicode spaces and invisible marks included; one explicit class, because
# Python's str.isspace and Rust's char::is_whitespace disagree on a few control characters.
_BLANK = "[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*"
EMPTY = f"^{_BLANK}$"  # Rust: `$` is the end of the text
EMPTY_RE = re.compile(_BLANK)  # used with fullmatch (Python's `$` also matches before "\n")
MARKDOWN = (
    r"(?m)^[ \t]{0,3}(?:#{1,6}[ \t]|[-*+][ \t]|[0-9]{1,9}[.)][ \t]|>)"
    r"|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]+\)|`[^`\n]+`"
)
MARKDOWN_RE = re.compile(MARKDOWN)
APOSTROPHES_RE = re.compile(APOSTROPHES)
_DEFAULT_WEIGHTS = MappingProxyType(
    {"format": 0.1, "length": 0.15, "refusal": 0.25, "repetition": 0.3, "judge": 0.2}
)
_DEFAULT_NGRAM_LIMITS = MappingProxyType({2: 0.20, 3: 0.18, 4: 0.16})


@dataclass(frozen=True)
class QualityConfig:
    min_length: int = 20
    max_length: int = 4000
    expected_format: str | None = None  # "json" | "markdown" | None
    refusal_phrases: tuple[str, ...] = DEFAULT_REFUSAL_PHRASES
    weights: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_WEIGHTS)
    hard_fail_cap: float = 0.3
    pass_threshold: float = 0.7
    repetition_min_words: int = 10
    min_trigram_ratio: float = 0.5
    gopher_min_words: int = 50  # Gopher limits target documents; short answers repeat naturally
    ngram_limits: Mapping[int, float] = field(default_factory=lambda: _DEFAULT_NGRAM_LIMITS)
    max_dup_line_share: float = 0.30
    # False: only the original trigram ratio (about 2x cheaper); Gopher shares/lines are None
    extended_repetition: bool = True

    def __post_init__(self) -> None:
        if self.expected_format not in (None, "json", "markdown"):
            raise ValueError(
                f"expected_format: {self.expected_format!r} is not one of None, 'json', 'markdown'"
            )
        missing = [c for c in (*CHECKS, "judge") if c not in self.weights]
        if missing or any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights: need a non-negative weight for each of {missing or CHECKS}")
        if sum(self.weights[c] for c in CHECKS) <= 0:
            raise ValueError("weights: the heuristic checks' weights must sum to more than 0")
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError("min_length/max_length: need 0 <= min_length <= max_length")
        if set(self.ngram_limits) != set(NGRAM_SIZES):
            raise ValueError(f"ngram_limits: need limits for n in {NGRAM_SIZES}")
        if not self.refusal_phrases:
            raise ValueError("refusal_phrases: the bank is empty")
        for p in self.refusal_phrases:
            try:
                re.compile(p, re.A)
            except re.error as exc:
                raise ValueError(f"refusal_phrases: {p!r} is not a valid regex: {exc}") from exc
            if re.search("[A-Z]", re.sub(r"\\.", "", p)):
                raise ValueError(
                    f"refusal_phrases: {p!r} has upper-case letters; the text is lowercased "
                    "before matching, so write phrases in lower case"
                )

    @property
    def refusal_pattern(self) -> str:
        """The bank as one alternation, matched case-sensitively against the lowercased
        text with ASCII word boundaries: Python flag re.A, Rust regex prefix "(?-u)".
        (Lowercasing once is ~4x cheaper than a case-insensitive regex.)"""
        return "|".join(f"(?:{p})" for p in self.refusal_phrases)


def coerce(value: object) -> tuple[str, str | None]:
    """(text, input_error): None/NaN -> missing, non-text -> error, lone surrogates replaced."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", "missing"
    if not isinstance(value, str):
        return "", f"response is {type(value).__name__}, expected str"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value, None


def is_json_container(text: str) -> bool:
    """A JSON object or array (orjson's strict grammar), surrounding whitespace allowed."""
    t = text.strip(JSON_WS)
    if not ((t.startswith("{") and t.endswith("}")) or (t.startswith("[") and t.endswith("]"))):
        return False
    try:
        orjson.loads(t)
    except orjson.JSONDecodeError:
        return False
    return True


def json_valid_batch(texts: pl.Series) -> np.ndarray:
    stripped = texts.str.strip_chars(JSON_WS)
    cand = (stripped.str.starts_with("{") & stripped.str.ends_with("}")) | (
        stripped.str.starts_with("[") & stripped.str.ends_with("]")
    )
    idx = np.flatnonzero(cand.to_numpy())
    valid = np.zeros(len(texts), dtype=bool)
    # only candidates reach the parser; JSON validity has no vectorized kernel here
    for i, t in zip(idx, stripped.gather(idx).to_list(), strict=True):
        try:
            orjson.loads(t)
            valid[i] = True
        except orjson.JSONDecodeError:
            pass
    return valid


def fence_counts(texts: pl.Series) -> pl.Series:
    """Count of ``` per text; counted only in texts holding one (a cheap literal scan)."""
    has = np.flatnonzero(texts.str.contains("```", literal=True).to_numpy())
    counts = np.zeros(len(texts), dtype=np.int64)
    counts[has] = texts.gather(has).str.count_matches("```", literal=True).to_numpy()
    return pl.Series(counts)


def format_score(
    kind: str, fences: int, config: QualityConfig, broken_json: bool = False
) -> tuple[float, bool]:
    """(score, meets_expected) — shared by the scalar path and the batch lookup table."""
    balanced = fences % 2 == 0
    base = {"json": 1.0, "markdown": 0.9 if balanced else 0.5, "plain": 0.7}[kind]
    if broken_json and kind != "json":
        meets = False
    elif config.expected_format == "json":
        meets = kind == "json"
    elif config.expected_format == "markdown":
        meets = balanced
    else:
        meets = True
    return (base if meets else 0.0), meets


def repetition_verdict(stats: Mapping[str, Any], config: QualityConfig) -> dict[str, Any]:
    words = stats["words"]
    ratio = stats["trigram_unique_ratio"]
    applicable = words >= config.repetition_min_words
    ratio_score = float(ratio) if applicable else 1.0
    ngram_exceeded = words >= config.gopher_min_words and any(
        (stats[f"top_{n}gram_share"] or 0.0) > config.ngram_limits[n] for n in NGRAM_SIZES
    )
    lines_exceeded = (stats["dup_line_share"] or 0.0) > config.max_dup_line_share
    exceeded = ngram_exceeded or lines_exceeded
    return {
        "score": min(ratio_score, 0.4) if exceeded else ratio_score,
        "passed": ratio_score >= config.min_trigram_ratio and not exceeded,
        "details": {
            **dict(stats),
            "trigram_applicable": applicable,
            "ngram_limit_exceeded": ngram_exceeded,
            "dup_lines_exceeded": lines_exceeded,
        },
    }


def aggregate(
    scores: Mapping[str, float], hard: bool, config: QualityConfig, empty: bool = False
) -> float:
    if empty:
        return 0.0
    total = 0.0
    weight = 0.0
    for c in CHECKS:
        total = total + config.weights[c] * scores[c]
        weight = weight + config.weights[c]
    score = total / weight
    return min(score, config.hard_fail_cap) if hard else score
