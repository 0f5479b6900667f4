"""Repetition statistics: trigram uniqueness, Gopher top-n-gram shares, duplicated lines.

Two implementations of one definition: `repetition_stats` (scalar, plain Python, the
reference) and `repetition_batch` (vectorized: words hashed to u64 by polars, n-gram keys
combined with numpy, unique counts via polars list kernels, repeat counts via one sort).
They agree exactly except on a hash collision between two n-grams of one text.

Definitions (both paths):
- words: maximal runs of characters other than ASCII whitespace (space, \\t \\n \\v \\f \\r).
  Case-sensitive. Splitting on ASCII whitespace keeps the scalar and Arrow paths identical.
- trigram_unique_ratio: distinct word trigrams / all trigrams (None when < 3 words).
- top_{n}gram_share (Gopher): over n-grams occurring at least twice, the max of
  occurrences x characters of the n-gram (words joined by one space), divided by the
  text's characters, capped at 1.0. 0.0 when no n-gram repeats.
- dup_line_share: lines (split on "\\n", ASCII-whitespace-stripped, blank ones dropped) equal
  to an earlier line, divided by all non-blank lines. 0.0 without lines.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

NGRAM_SIZES: tuple[int, ...] = (2, 3, 4)
ASCII_WS = " \t\n\v\f\r"
_WS_RE = re.compile("[ \t\n\v\f\r]+")

# Odd 64-bit multiplier for combining word hashes into n-gram keys (wrap-around arithmetic).
_MUL = np.uint64(0x9E3779B97F4A7C15)
_HASH_SEED = 20240917
_ROW_BITS = 20  # rows per call stay below 2**20; the other 44 bits hold the n-gram hash
MAX_BATCH_ROWS = 1 << _ROW_BITS

REPETITION_COLUMNS: tuple[str, ...] = (
    "words",
    "trigram_unique_ratio",
    *(f"top_{n}gram_share" for n in NGRAM_SIZES),
    "dup_line_share",
    "lines",
)


def split_words(text: str) -> list[str]:
    return [w for w in _WS_RE.split(text) if w]


def repetition_stats(text: str) -> dict[str, Any]:
    """Scalar reference implementation; keys are `REPETITION_COLUMNS`."""
    words = split_words(text)
    n_chars = len(text)
    out: dict[str, Any] = {"words": len(words)}
    tri = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    out["trigram_unique_ratio"] = len(set(tri)) / len(tri) if tri else None
    for n in NGRAM_SIZES:
        grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        best = 0
        for gram, count in grams.items():
            if count >= 2:
                best = max(best, count * (sum(len(w) for w in gram) + n - 1))
        out[f"top_{n}gram_share"] = min(best / n_chars, 1.0) if n_chars else 0.0
    lines = [x for x in (line.strip(ASCII_WS) for line in text.split("\n")) if x]
    out["dup_line_share"] = (len(lines) - len(set(lines))) / len(lines) if lines else 0.0
    out["lines"] = len(lines)
    return out


def _n_unique_per_row(rows: np.ndarray, keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, keys) per row; rows must be sorted. Uses polars' per-list kernel."""
    total = np.bincount(rows, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    lists = pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(keys)))
    return lists.list.n_unique().fill_null(0).to_numpy().astype(np.int64), total


def _top_share(
    rows: np.ndarray, keys: np.ndarray, gram_chars: np.ndarray, n_chars: np.ndarray
) -> np.ndarray:
    """Per row: max(count x chars) over keys seen at least twice, / n_chars, capped at 1."""
    n = len(n_chars)
    best = np.zeros(n, dtype=np.int64)
    if len(rows):
        packed = (rows.astype(np.uint64) << np.uint64(64 - _ROW_BITS)) | (
            keys >> np.uint64(_ROW_BITS)
        )
        # input is already ordered by row, which the stable (run-merging) sort exploits
        order = np.argsort(packed, kind="stable")
        k = packed[order]
        starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
        counts = np.diff(np.append(starts, len(k)))
        rep = counts >= 2
        if rep.any():
            first = order[starts[rep]]
            np.maximum.at(best, rows[first], counts[rep] * gram_chars[first])
    share = np.zeros(n)
    pos = n_chars > 0
    share[pos] = np.minimum(best[pos] / n_chars[pos], 1.0)
    return share


def _word_table(texts: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, word hash, word chars) for every word, in text order."""
    split = texts.str.replace_all("[\t\n\v\f\r]", " ").str.split(" ")
    lens = split.list.len().fill_null(0).to_numpy()
    flat = split.explode()
    keep = (flat.str.len_bytes() > 0).fill_null(False).to_numpy()
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lens)[keep]
    hashes = flat.hash(seed=_HASH_SEED).to_numpy()[keep]
    wlen = flat.str.len_chars().fill_null(0).cast(pl.Int64).to_numpy()[keep]
    return rows, hashes, wlen


def _ngrams(
    rows: np.ndarray, hashes: np.ndarray, wlen: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, key, characters) of every word k-gram that lies inside one row."""
    m = len(rows) - k + 1
    if m <= 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, np.empty(0, dtype=np.uint64), empty
    g = hashes[:m].copy()
    chars = wlen[:m].copy()
    for j in range(1, k):
        g *= _MUL
        g += hashes[j : j + m]
        chars += wlen[j : j + m]
    same = rows[:m] == rows[k - 1 :]  # rows are contiguous and sorted
    return rows[:m][same], g[same], chars[same] + (k - 1)


def repetition_batch(texts: pl.Series) -> pl.DataFrame:
    """Vectorized `repetition_stats` over a Utf8 series without nulls; one row per text."""
    n = len(texts)
    if n >= MAX_BATCH_ROWS:
        raise ValueError(f"repetition_batch: {n} rows; pass chunks below {MAX_BATCH_ROWS}")
    n_chars = texts.str.len_chars().cast(pl.Int64).to_numpy()
    rows, hashes, wlen = _word_table(texts)
    out: dict[str, Any] = {"words": np.bincount(rows, minlength=n).astype(np.int64)}
    for k in NGRAM_SIZES:
        r, g, chars = _ngrams(rows, hashes, wlen, k)
        if k == 2:
            out["top_2gram_share"] = _top_share(r, g, chars, n_chars)
            continue
        uniq, total = _n_unique_per_row(r, g, n)
        if k == 3:
            ratio = np.full(n, np.nan)
            has = total > 0
            ratio[has] = uniq[has] / total[has]
            out["trigram_unique_ratio"] = pl.Series(ratio, dtype=pl.Float64, nan_to_null=True)
        # only rows holding a repeated k-gram can have a non-zero share
        sel = (uniq < total)[r]
        out[f"top_{k}gram_share"] = _top_share(r[sel], g[sel], chars[sel], n_chars)

    lines = texts.str.split("\n")
    line_lens = lines.list.len().fill_null(0).to_numpy()
    flat = lines.explode().str.strip_chars(ASCII_WS)
    keep = (flat.str.len_bytes() > 0).fill_null(False).to_numpy()
    lrows = np.repeat(np.arange(n, dtype=np.int64), line_lens)[keep]
    uniq_lines, n_lines = _n_unique_per_row(lrows, flat.hash(seed=_HASH_SEED).to_numpy()[keep], n)
    dup = np.zeros(n)
    has_lines = n_lines > 0
    dup[has_lines] = (n_lines[has_lines] - uniq_lines[has_lines]) / n_lines[has_lines]
    out["dup_line_share"] = dup
    out["lines"] = n_lines.astype(np.int64)
    return pl.DataFrame({c: out[c] for c in REPETITION_COLUMNS})
