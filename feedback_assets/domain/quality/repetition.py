"""Repetition statistics: trigram uniqueness, Gopher top-n-gram shares, duplicated lines.

Two implementations of one definition: `repetition_stats` (scalar, plain Python, the
reference) and `repetition_batch` (vectorized: words hashed to u64 by polars, n-gram keys
combined with numpy; repeated n-grams found by bucket counting, which discards the n-grams
certainly unique in their text, then an exact sort of the few left; a k-gram is a candidate
only where both (k-1)-grams inside it repeat). They agree exactly except on a 64-bit hash
collision between two n-grams of one text.

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
_ROW_BITS = 20
MAX_BATCH_ROWS = 1 << _ROW_BITS
# Bucket passes (salt, table slots per candidate): with L slots per key about 1 - e^(-1/L)
# of the unique keys share a bucket and survive (22% at 4, 6% at 16); the first pass runs
# on all positions, later ones on survivors only. Below _EXACT_BELOW candidates we sort.
_PASSES: tuple[tuple[np.uint64, int], ...] = (
    (np.uint64(0xD6E8FEB86659FD93), 4),
    (np.uint64(0xA0761D6478BD642F), 16),
    (np.uint64(0xE7037ED1A0B428DB), 32),
)
_EXACT_BELOW = 4096
# When most candidates survive a pass they mostly truly repeat (looping text): further
# passes cannot pay for their larger tables, so sort right away.
_MAX_SURVIVING = 0.5


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


def _n_unique_per_row(rows: np.ndarray, keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, keys) per row (rows sorted), with polars' per-list kernel."""
    total = np.bincount(rows, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    lists = pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(keys)))
    return lists.list.n_unique().fill_null(0).to_numpy().astype(np.int64), total


def _maybe_repeated(
    rows: np.ndarray, keys: np.ndarray, salt: np.uint64, load: int, n: int
) -> np.ndarray:
    """False where a key is certainly unique in its row: keys are counted per bucket of a
    small hash table per row (one np.bincount over all rows' tables, laid out in row order
    so it stays cache-local), and a key alone in its bucket cannot repeat. True marks the
    repeats plus bucket collisions, which `_repeat_groups` settles exactly."""
    per_row = np.diff(np.searchsorted(rows, np.arange(n + 1)))  # rows are sorted
    size = per_row * load
    if size.max(initial=0) >= 1 << 32:  # multiply-shift below needs sizes under 2**32
        return np.ones(len(keys), dtype=bool)
    base = np.zeros(n, dtype=np.int64)
    np.cumsum(size[:-1], out=base[1:])
    # multiply-shift maps the top 32 hash bits onto [0, size) without a division
    bucket = (keys * salt) >> np.uint64(32)
    bucket *= np.repeat(size.astype(np.uint64), per_row)
    bucket >>= np.uint64(32)
    slot = bucket.view(np.int64)
    slot += np.repeat(base, per_row)
    return np.bincount(slot, minlength=int(size.sum()))[slot] > 1


def _repeat_groups(
    rows: np.ndarray, keys: np.ndarray, pos: np.ndarray, n: int, filtered: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group candidate n-grams (aligned rows, keys, word positions; rows sorted) by (row,
    key), exactly: (positions inside a repeated group, first position of each repeated
    group, its size). `filtered` bucket passes have already been applied."""
    for salt, load in _PASSES[filtered:]:
        if len(pos) < _EXACT_BELOW:
            break
        keep = np.flatnonzero(_maybe_repeated(rows, keys, salt, load, n))
        futile = len(keep) > len(pos) * _MAX_SURVIVING
        rows, keys, pos = rows[keep], keys[keep], pos[keep]
        if futile:
            break
    if not len(pos):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    # sort by row and the key's top bits in one u64; if two keys of a row share those bits
    # (about 2**-44 per pair), sort by the full pair instead
    packed = (rows.astype(np.uint64) << np.uint64(64 - _ROW_BITS)) | (keys >> np.uint64(_ROW_BITS))
    order = pl.Series(packed).arg_sort().to_numpy()
    r, k = rows[order], keys[order]
    same = packed[order][1:] == packed[order][:-1]
    if (same & (k[1:] != k[:-1])).any():
        order = np.lexsort((keys, rows))
        r, k = rows[order], keys[order]
        same = (r[1:] == r[:-1]) & (k[1:] == k[:-1])
    pos = pos[order]
    new = np.empty(len(pos), dtype=bool)
    new[0] = True
    new[1:] = ~same
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(pos)))
    rep = sizes >= 2
    return pos[np.repeat(rep, sizes)], pos[starts[rep]], sizes[rep]


def _gram_keys(hashes: np.ndarray, pos: np.ndarray, k: int) -> np.ndarray:
    """Key of the k-gram starting at each position: word hashes combined in order."""
    key = hashes[pos]
    for j in range(1, k):
        key = key * _MUL + hashes[pos + j]
    return key


def _gram_chars(wlen: np.ndarray, pos: np.ndarray, k: int) -> np.ndarray:
    """Characters of the k-gram at each position, its words joined by single spaces."""
    chars = wlen[pos] + (k - 1)
    for j in range(1, k):
        chars = chars + wlen[pos + j]
    return chars


def _word_table(texts: pl.Series, ascii_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, word hash, word chars) for every word, in text order."""
    word = pl.col("w")
    frame = (
        pl.DataFrame({"w": texts.str.replace_all("[\t\n\v\f\r]", " ").str.split(" ")})
        .with_row_index("r")
        .lazy()
        .explode("w")
        .filter(word != "")
        .select(
            pl.col("r").cast(pl.Int64),
            word.hash(seed=_HASH_SEED).alias("h"),
            # bytes == characters in ASCII text, and far cheaper to count
            (word.str.len_bytes() if ascii_only else word.str.len_chars()).cast(pl.Int64),
        )
        .collect()
    )
    return frame["r"].to_numpy(), frame["h"].to_numpy(), frame["w"].to_numpy()


def _ngram_stats(
    rows: np.ndarray, hashes: np.ndarray, wlen: np.ndarray, n: int, sizes: tuple[int, ...]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Per k in sizes: (k, repeated k-grams per row counted beyond their first occurrence,
    best occurrences x characters per row over k-grams seen at least twice).

    A k-gram can repeat only where both (k-1)-grams inside it repeat, so after the first
    size only those positions are candidates: a few percent of the words in usual text."""
    n_words = len(rows)
    repeated: np.ndarray | None = None
    for k in range(min(sizes), max(sizes) + 1):
        m = max(n_words - k + 1, 0)
        filtered = 0
        if repeated is None:
            # every start position: keys from shifted views, one bucket pass before any copy
            keys = hashes[:m]
            for j in range(1, k):
                keys = keys * _MUL + hashes[j : m + j]
            keep = rows[:m] == rows[k - 1 :]  # the k-gram stays in its row (rows sorted)
            if m >= _EXACT_BELOW:
                keep &= _maybe_repeated(rows[:m], keys, *_PASSES[0], n)
                futile = np.count_nonzero(keep) > m * _MAX_SURVIVING
                filtered = len(_PASSES) if futile else 1
            pos = np.flatnonzero(keep)
            keys = keys[pos]
        else:
            pos = np.flatnonzero(repeated[:m] & repeated[1 : m + 1])
            keys = _gram_keys(hashes, pos, k)
        members, firsts, counts = _repeat_groups(rows[pos], keys, pos, n, filtered)
        first_rows = rows[firsts]
        dups = np.bincount(first_rows, weights=counts - 1, minlength=n).astype(np.int64)
        best = np.zeros(n, dtype=np.int64)
        np.maximum.at(best, first_rows, counts * _gram_chars(wlen, firsts, k))
        repeated = np.zeros(n_words, dtype=bool)
        repeated[members] = True
        if k in sizes:
            yield k, dups, best


def repetition_batch(texts: pl.Series, extended: bool = True) -> pl.DataFrame:
    """Vectorized `repetition_stats` over a Utf8 series without nulls; one row per text."""
    n = len(texts)
    if n >= MAX_BATCH_ROWS:
        raise ValueError(f"repetition_batch: {n} rows; pass chunks below {MAX_BATCH_ROWS}")
    n_chars = texts.str.len_chars().cast(pl.Int64).to_numpy()
    ascii_only = bool(texts.str.len_bytes().sum() == n_chars.sum())
    rows, hashes, wlen = _word_table(texts, ascii_only)
    words = np.bincount(rows, minlength=n).astype(np.int64)
    nothing = pl.Series([None] * n, dtype=pl.Float64)
    out: dict[str, Any] = {"words": words}
    out |= {f"top_{k}gram_share": nothing for k in NGRAM_SIZES}
    out |= {"dup_line_share": nothing, "lines": pl.Series([None] * n, dtype=pl.Int64)}
    has_chars = n_chars > 0
    for k, dups, best in _ngram_stats(rows, hashes, wlen, n, NGRAM_SIZES if extended else (3,)):
        if k == 3:
            total = np.maximum(words - 2, 0)
            ratio = np.full(n, np.nan)
            has = total > 0
            ratio[has] = (total[has] - dups[has]) / total[has]
            out["trigram_unique_ratio"] = pl.Series(ratio, dtype=pl.Float64, nan_to_null=True)
        if extended:
            share = np.zeros(n)
            share[has_chars] = np.minimum(best[has_chars] / n_chars[has_chars], 1.0)
            out[f"top_{k}gram_share"] = share
    if not extended:
        return pl.DataFrame({c: out[c] for c in REPETITION_COLUMNS})

    out["dup_line_share"], out["lines"] = _line_stats(texts, words)
    return pl.DataFrame({c: out[c] for c in REPETITION_COLUMNS})


def _line_stats(texts: pl.Series, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dup_line_share, lines) per text. A text without "\\n" is one line exactly when it
    has a word, and has no duplicates, so only multi-line texts are split."""
    n = len(texts)
    n_lines = (words > 0).astype(np.int64)
    dup = np.zeros(n)
    multi = np.flatnonzero(texts.str.contains("\n", literal=True).to_numpy())
    if not len(multi):
        return dup, n_lines
    lines = texts.gather(multi).str.split("\n")
    line_lens = lines.list.len().to_numpy()
    flat = lines.explode().str.strip_chars(ASCII_WS)
    keep = (flat.str.len_bytes() > 0).to_numpy()
    lrows = np.repeat(np.arange(len(multi), dtype=np.int64), line_lens)[keep]
    hashes = flat.hash(seed=_HASH_SEED).to_numpy()[keep]
    uniq, total = _n_unique_per_row(lrows, hashes, len(multi))
    n_lines[multi] = total
    has = total > 0
    dup[multi[has]] = (total[has] - uniq[has]) / total[has]
    return dup, n_lines
