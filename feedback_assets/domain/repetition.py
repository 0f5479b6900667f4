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
from collections.abc import Iterator
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


def repetition_stats(text: str, extended: bool = True) -> dict[str, Any]:
    """Scalar reference implementation; keys are `REPETITION_COLUMNS`. Without `extended`
    only words and the trigram ratio are computed (the rest is None)."""
    words = split_words(text)
    n_chars = len(text)
    out: dict[str, Any] = {"words": len(words)}
    tri = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    out["trigram_unique_ratio"] = len(set(tri)) / len(tri) if tri else None
    if not extended:
        return out | {c: None for c in REPETITION_COLUMNS if c not in out}
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


def _per_row_lists(rows: np.ndarray, keys: np.ndarray, n: int) -> tuple[pl.Series, np.ndarray]:
    """keys as one list per row (zero-copy from offsets; rows must be sorted), and counts."""
    total = np.bincount(rows, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    return pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(keys))), total


def _n_unique_per_row(rows: np.ndarray, keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, keys) per row, with polars' per-list kernel (small, cache-local sets)."""
    lists, total = _per_row_lists(rows, keys, n)
    return lists.list.n_unique().fill_null(0).to_numpy().astype(np.int64), total


def _repeated_in_row(rows: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Mask of keys occurring more than once within their row."""
    lists, _ = _per_row_lists(rows, keys, n)
    return lists.list.eval(pl.element().is_duplicated()).explode().to_numpy().astype(bool)


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


def _ngram_iter(
    rows: np.ndarray, hashes: np.ndarray, wlen: np.ndarray, sizes: tuple[int, ...]
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(k, key, characters, valid) per word position for k ascending: the k-gram starting
    there, aligned with the words so every size shares the words' row offsets. Positions
    whose k-gram would leave the row get a unique sentinel key (the position itself), so
    they never repeat. Each k-gram key extends the (k-1)-gram key in place."""
    n_words = len(rows)
    positions = np.arange(n_words, dtype=np.uint64)
    g = hashes.copy()
    chars = wlen.copy()
    for k in range(2, max(sizes) + 1):
        m = max(n_words - k + 1, 0)
        g[:m] *= _MUL
        g[:m] += hashes[k - 1 :]
        chars[:m] += wlen[k - 1 :]
        if k in sizes:
            valid = np.zeros(n_words, dtype=bool)
            valid[:m] = rows[:m] == rows[k - 1 :]  # rows are contiguous and sorted
            yield k, np.where(valid, g, positions), chars + (k - 1), valid


def repetition_batch(texts: pl.Series, extended: bool = True) -> pl.DataFrame:
    """Vectorized `repetition_stats` over a Utf8 series without nulls; one row per text."""
    n = len(texts)
    if n >= MAX_BATCH_ROWS:
        raise ValueError(f"repetition_batch: {n} rows; pass chunks below {MAX_BATCH_ROWS}")
    n_chars = texts.str.len_chars().cast(pl.Int64).to_numpy()
    rows, hashes, wlen = _word_table(texts)
    words = np.bincount(rows, minlength=n).astype(np.int64)
    nothing = pl.Series([None] * n, dtype=pl.Float64)
    out: dict[str, Any] = {"words": words}
    out |= {f"top_{k}gram_share": nothing for k in NGRAM_SIZES}
    out |= {"dup_line_share": nothing, "lines": pl.Series([None] * n, dtype=pl.Int64)}
    for k, g, chars, valid in _ngram_iter(rows, hashes, wlen, NGRAM_SIZES if extended else (3,)):
        if k == 2:
            # sorting only the repeated bigrams (a few %) is far cheaper than sorting all
            rep = _repeated_in_row(rows, g, n) & valid
            out["top_2gram_share"] = _top_share(rows[rep], g[rep], chars[rep], n_chars)
            continue
        uniq, _ = _n_unique_per_row(rows, g, n)
        total = np.maximum(words - (k - 1), 0)
        uniq = uniq - (words - total)  # drop the unique sentinels
        if k == 3:
            ratio = np.full(n, np.nan)
            has = total > 0
            ratio[has] = uniq[has] / total[has]
            out["trigram_unique_ratio"] = pl.Series(ratio, dtype=pl.Float64, nan_to_null=True)
        if extended:
            # only rows holding a repeated k-gram can have a non-zero share
            sel = (uniq < total)[rows] & valid
            out[f"top_{k}gram_share"] = _top_share(rows[sel], g[sel], chars[sel], n_chars)
    if not extended:
        return pl.DataFrame({c: out[c] for c in REPETITION_COLUMNS})

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
