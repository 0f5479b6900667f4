"""The batch path of heuristic quality scoring: polars/numpy over bounded chunks.

It implements the same rules as the scalar `quality.assess_response` and agrees with it exactly
(a hypothesis property test checks it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from feedback_assets.domain.quality.quality_rules import (
    APOSTROPHES,
    CHECKS,
    EMPTY,
    FORMAT_KINDS,
    LOOKS_JSON,
    MARKDOWN,
    QualityConfig,
    coerce,
    fence_counts,
    format_score,
    json_valid_batch,
)
from feedback_assets.domain.quality.repetition import (
    NGRAM_SIZES,
    repetition_batch,
)

DEFAULT_CHUNK_ROWS = 50_000
# MARKDOWN's line-start part as "at the start or after a newline": the same matches, but
# the regex engine can seek the newline instead of trying every position (~12x faster).
_MD_LINE = r"[ \t]{0,3}(?:#{1,6}[ \t]|[-*+][ \t]|[0-9]{1,9}[.)][ \t]|>)"
_MD_INLINE = r"\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]+\)|`[^`\n]+`"
_MD_SPLIT = f"(?m)^{_MD_LINE}|{_MD_INLINE}" == MARKDOWN
_REPETITION_SUBCHUNK = 2_000  # keeps the n-gram arrays and bucket tables cache-resident


# ---- batch ---------------------------------------------------------------------------------


def _arrow_texts(values: object) -> pa.Array | pa.ChunkedArray | None:
    """The input as an Arrow string array without a Python round trip, or None if that is
    not possible (non-text values, lone surrogates) and the per-value path must run."""
    try:
        if isinstance(values, pa.Array | pa.ChunkedArray):
            arr = values
        elif isinstance(values, pd.Series):
            arr = pa.array(values, from_pandas=True)
        else:
            arr = pa.array(values, type=pa.large_string(), from_pandas=True)
        if pa.types.is_null(arr.type):
            return arr.cast(pa.large_string())
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return None
        return arr
    except (pa.ArrowException, UnicodeEncodeError):
        return None


def _chunks(values: object, n: int, chunk_rows: int) -> Iterator[tuple[pl.Series, pl.Series]]:
    """(texts without nulls, input_error) per chunk of at most chunk_rows."""
    arr = _arrow_texts(values)
    if arr is not None:
        for start in range(0, n, chunk_rows):
            # convert per chunk so only one chunk's polars copy is alive at a time
            chunk = pl.Series("t", arr.slice(start, chunk_rows))
            missing = pl.select(
                pl.when(chunk.is_null()).then(pl.lit("missing", dtype=pl.Utf8))
            ).to_series()
            yield chunk.fill_null(""), missing.alias("e")
        return
    if isinstance(values, pa.Array | pa.ChunkedArray):
        seq: Sequence[object] = values.to_pylist()
    elif isinstance(values, pd.Series):
        seq = values.tolist()
    else:
        seq = list(values)  # type: ignore[call-overload]
    for start in range(0, n, chunk_rows):
        pairs = [coerce(v) for v in seq[start : start + chunk_rows]]
        yield (
            pl.Series("t", [p[0] for p in pairs], dtype=pl.Utf8),
            pl.Series("e", [p[1] for p in pairs], dtype=pl.Utf8),
        )


def _markdown(texts: pl.Series) -> pl.Series:
    """`MARKDOWN_RE.search(text) is not None` for each text."""
    if not _MD_SPLIT:
        return texts.str.contains(MARKDOWN)
    return (
        texts.str.contains(f"^{_MD_LINE}")
        | texts.str.contains(f"\n{_MD_LINE}")
        | texts.str.contains(_MD_INLINE)
    )


def _repetition(texts: pl.Series, extended: bool) -> pl.DataFrame:
    parts = [
        repetition_batch(texts.slice(i, _REPETITION_SUBCHUNK), extended)
        for i in range(0, len(texts), _REPETITION_SUBCHUNK)
    ]
    return pl.concat(parts) if parts else repetition_batch(texts, extended)


class _FormatCols(NamedTuple):
    fences: pl.Series
    kind: np.ndarray  # index into FORMAT_KINDS
    broken: np.ndarray
    balanced: np.ndarray
    score: np.ndarray
    meets: np.ndarray


def _format_columns(texts: pl.Series, config: QualityConfig) -> _FormatCols:
    fences = fence_counts(texts)
    md = (fences > 0) | _markdown(texts)
    kind = np.where(json_valid_batch(texts), 0, np.where(md.to_numpy(), 1, 2))
    broken = (kind != 0) & texts.str.contains(LOOKS_JSON).to_numpy()
    balanced = (fences % 2 == 0).to_numpy()
    # scores per (kind, balanced, broken) from the scalar rule itself, so both paths share it
    lut = [
        [[format_score(k, 1 - b, config, bool(j)) for j in (0, 1)] for b in (0, 1)]
        for k in FORMAT_KINDS
    ]
    at = (kind, balanced.astype(int), broken.astype(int))
    f_score = np.array([[[s for s, _ in c] for c in row] for row in lut])[at]
    meets = np.array([[[m for _, m in c] for c in row] for row in lut])[at]
    return _FormatCols(fences, kind, broken, balanced, f_score, meets)


def _refusal_matches(texts: pl.Series, config: QualityConfig) -> pl.Series:
    """The matched refusal phrase per text, null where none matched."""
    return (
        texts.str.to_lowercase()
        .str.replace_all(APOSTROPHES, "'")
        .str.extract("(?-u)" + config.refusal_pattern, 0)
    )


class _RepetitionCols(NamedTuple):
    stats: pl.DataFrame
    applicable: np.ndarray  # enough words for the trigram ratio to count
    ratio_score: np.ndarray
    ngram_over: np.ndarray
    lines_over: np.ndarray


def _repetition_columns(texts: pl.Series, config: QualityConfig) -> _RepetitionCols:
    rep = _repetition(texts, config.extended_repetition)
    words = rep["words"].to_numpy()
    ratio = rep["trigram_unique_ratio"].fill_null(1.0).to_numpy()
    applicable = words >= config.repetition_min_words
    ratio_score = np.where(applicable, ratio, 1.0)
    ngram_over = np.zeros(len(texts), dtype=bool)
    for n in NGRAM_SIZES:
        ngram_over |= rep[f"top_{n}gram_share"].fill_null(0.0).to_numpy() > config.ngram_limits[n]
    ngram_over &= words >= config.gopher_min_words
    lines_over = rep["dup_line_share"].fill_null(0.0).to_numpy() > config.max_dup_line_share
    return _RepetitionCols(rep, applicable, ratio_score, ngram_over, lines_over)


def _total_score(
    scores: dict[str, np.ndarray], hard: np.ndarray, empty: np.ndarray, config: QualityConfig
) -> np.ndarray:
    """Weighted mean of the check scores, capped on a hard fail, 0 for an empty response."""
    total = np.zeros(len(hard))
    for c in CHECKS:
        total = total + config.weights[c] * scores[c]
    score = total / sum(config.weights[c] for c in CHECKS)
    score = np.where(hard, np.minimum(score, config.hard_fail_cap), score)
    return np.where(empty, 0.0, score)


def _score_chunk(texts: pl.Series, input_error: pl.Series, config: QualityConfig) -> pl.DataFrame:
    fmt = _format_columns(texts, config)
    chars = texts.str.len_chars().cast(pl.Int64).to_numpy()
    too_short, too_long = chars < config.min_length, chars > config.max_length
    matched = _refusal_matches(texts, config)
    refused = matched.is_not_null().to_numpy()
    rep = _repetition_columns(texts, config)
    over = rep.ngram_over | rep.lines_over
    scores = {
        "format": fmt.score,
        "length": np.where(too_short | too_long, 0.4, 1.0),
        "refusal": np.where(refused, 0.0, 1.0),
        "repetition": np.where(over, np.minimum(rep.ratio_score, 0.4), rep.ratio_score),
    }
    passed = {
        "format": fmt.score >= 0.7,
        "length": ~(too_short | too_long),
        "refusal": ~refused,
        "repetition": (rep.ratio_score >= config.min_trigram_ratio) & ~over,
    }
    empty = texts.str.contains(EMPTY).to_numpy()
    hard = empty | ~fmt.meets | refused
    all_passed = passed["format"] & passed["length"] & passed["refusal"] & passed["repetition"]
    score = _total_score(scores, hard, empty, config)

    kinds = np.array(FORMAT_KINDS)[fmt.kind]
    frame = pl.DataFrame(
        {
            "score": score,
            "passed": ~hard & all_passed & (score >= config.pass_threshold),
            "hard_fail": hard,
            "format_kind": kinds,
            **{f"{c}_score": scores[c] for c in CHECKS},
            **{f"{c}_passed": passed[c] for c in CHECKS},
            "empty_score": np.where(empty, 0.0, 1.0),
            "empty_passed": ~empty,
        }
    )
    length = pl.DataFrame({"chars": chars, "too_short": too_short, "too_long": too_long})
    details = _details(fmt, kinds, length, matched, rep, empty, refused, input_error, config)
    return frame.with_columns(details=details)


def _details(
    fmt: _FormatCols,
    kinds: np.ndarray,
    length: pl.DataFrame,
    matched: pl.Series,
    rep: _RepetitionCols,
    empty: np.ndarray,
    refused: np.ndarray,
    input_error: pl.Series,
    config: QualityConfig,
) -> pl.Series:
    """The per-row details column: JSON of each check's details, input_error and reasons."""
    n = len(kinds)
    reasons = pl.concat_list(
        [
            pl.when(pl.Series(m)).then(pl.lit(r))
            for r, m in (("empty", empty), ("format", ~fmt.meets), ("refusal", refused))
        ]
    ).list.drop_nulls()
    rep_struct = rep.stats.with_columns(
        trigram_applicable=rep.applicable,
        ngram_limit_exceeded=rep.ngram_over,
        dup_lines_exceeded=rep.lines_over,
    )
    details = pl.DataFrame(
        {
            "format": pl.DataFrame(
                {
                    "kind": kinds,
                    "fences": fmt.fences,
                    "balanced": fmt.balanced,
                    "expected": pl.Series([config.expected_format] * n, dtype=pl.Utf8),
                    "meets_expected": fmt.meets,
                    "broken_json": fmt.broken,
                }
            ).to_struct(),
            "length": length.to_struct(),
            "refusal": pl.DataFrame({"matched": matched}).to_struct(),
            "repetition": rep_struct.to_struct(),
            "empty": pl.Series([{}] * n, dtype=pl.Struct({})),
            "input_error": input_error,
        }
    ).with_columns(hard_fail_reasons=reasons)
    return details.to_struct().struct.json_encode()


def score_batch(
    responses: pd.Series | pa.Array | pa.ChunkedArray | Sequence[str | None],
    config: QualityConfig = QualityConfig(),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> pd.DataFrame:
    """One row per input, same order (and index, for a pandas Series). Columns: score, passed,
    hard_fail, format_kind, {check}_score, {check}_passed, details (JSON text)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows: must be >= 1, got {chunk_rows}")
    n = len(responses)
    index = responses.index if isinstance(responses, pd.Series) else pd.RangeIndex(n)
    parts = [_score_chunk(t, e, config) for t, e in _chunks(responses, n, chunk_rows)]
    if not parts:
        parts.append(_score_chunk(pl.Series("t", [], pl.Utf8), pl.Series("e", [], pl.Utf8), config))
    out = pl.concat(parts).to_pandas()
    out.index = index
    return out
