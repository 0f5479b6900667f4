"""Near-duplicate components of MinHash signatures, exactly, without pairwise candidate lists.

Two signatures are near-duplicates when they agree on at least `threshold` of their slots, so they
differ in at most m slots. Cut the slots into m + 1 disjoint bands: by the pigeonhole principle
two near-duplicates agree on a whole band. Grouping rows by each band's value therefore finds
every near-duplicate pair; each candidate is verified on the full signature, so the result is
exactly the edge set "agree on >= threshold of the slots", whatever the bands.

The bands are strided (slot s is in band s mod (m + 1)), not contiguous: one-permutation hashing
fills a short text's empty bins from the next filled bin, so neighbouring slots often carry one
value, and a contiguous band of templated prompts matches far more often than its width says.
On 333k templated prompts contiguous bands gave billions of candidate pairs, strided ones 30M.
Rows with identical signatures are collapsed first, and candidates are screened on one byte per
slot before the full 8-byte comparison (a byte differs wherever the slot differs, so the screen
never drops a near-duplicate).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MIN_BAND = 2  # narrower bands match by chance too often to save work: callers fall back
BLOCK_BYTES = 32 << 20  # bound on one verification block (rows x rows x slots bytes)
SMALL_GROUP = 48  # band groups up to this size are paired in bulk; larger ones block by block
PAIR_CHUNK = 1 << 18  # candidate pairs verified per vectorized step
MAX_DEPTH = 1  # big sparse band groups are re-banded at most this often, then compared in blocks
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def agree(others: np.ndarray, sig: np.ndarray, threshold: float) -> np.ndarray:
    """Which rows of `others` agree with `sig` on at least `threshold` of their slots."""
    return np.asarray((others == sig).mean(axis=1) >= threshold, dtype=bool)


def max_mismatches(threshold: float, num_perm: int) -> int:
    """The most slots two near-duplicates may differ in (same arithmetic as `agree`)."""
    return max(m for m in range(num_perm + 1) if (num_perm - m) / num_perm >= threshold)


def band_width(threshold: float, num_perm: int) -> int:
    """Slots per band of the pigeonhole banding (0: too narrow to be worth it)."""
    width = num_perm // (max_mismatches(threshold, num_perm) + 1)
    return width if width >= MIN_BAND else 0


def band_columns(threshold: float, num_perm: int) -> list[np.ndarray]:
    """The strided bands: m + 1 disjoint slot sets covering every slot (empty: no banding)."""
    if band_width(threshold, num_perm) == 0:
        return []
    bands = max_mismatches(threshold, num_perm) + 1
    return [np.arange(b, num_perm, bands) for b in range(bands)]


def row_hash(values: np.ndarray) -> np.ndarray:
    """One uint64 per row of a uint64 matrix (equal rows, equal hashes; collisions are rare)."""
    h = np.zeros(values.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(values.shape[1]):
            h = (h ^ values[:, c]) * _GOLDEN
            h ^= h >> np.uint64(29)
    return h


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by key, the start of each run of equal keys and its length."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]])) if len(sk) else sk[:0]
    lengths = np.diff(np.concatenate([starts, [len(sk)]]))
    return order, starts.astype(np.int64), lengths.astype(np.int64)


def _small_pairs(
    order: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of rows inside the runs of length 2..SMALL_GROUP, in bulk (offset by offset)."""
    run = np.repeat(np.arange(len(starts)), lengths)
    ok = np.repeat((lengths >= 2) & (lengths <= SMALL_GROUP), lengths)
    out_a, out_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for d in range(1, SMALL_GROUP):
        same = (run[:-d] == run[d:]) & ok[d:]
        if not same.any():
            break
        out_a.append(order[:-d][same])
        out_b.append(order[d:][same])
    return np.concatenate(out_a), np.concatenate(out_b)


def _block_pairs(
    a: np.ndarray, b: np.ndarray, need: int, symmetric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (into a, into b) of rows equal in at least `need` slots, in row blocks so the
    comparison cube stays within ~BLOCK_BYTES. `symmetric` (a is b): only pairs i < j."""
    out_i, out_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    step = max(1, BLOCK_BYTES // max(1, b.shape[0] * b.shape[1] * b.itemsize))
    for start in range(0, a.shape[0], step):
        first = start + 1 if symmetric else 0  # rows of b below the block were compared already
        equal = (a[start : start + step, None, :] == b[None, first:, :]).sum(axis=2, dtype=np.int16)
        i, j = np.nonzero(equal >= need)
        keep = (i + start < j + first) if symmetric else slice(None)
        out_i.append(i[keep] + start)
        out_j.append(j[keep] + first)
    return np.concatenate(out_i), np.concatenate(out_j)


def _verify(
    every: np.ndarray, screen: np.ndarray, a: np.ndarray, b: np.ndarray, need: int
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs that agree on >= need slots: one-byte screen, then full values."""
    keep_a, keep_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for s in range(0, len(a), PAIR_CHUNK):
        ca, cb = a[s : s + PAIR_CHUNK], b[s : s + PAIR_CHUNK]
        hit = (screen[ca] == screen[cb]).sum(axis=1, dtype=np.int16) >= need
        ca, cb = ca[hit], cb[hit]
        hit = (every[ca] == every[cb]).sum(axis=1, dtype=np.int16) >= need
        keep_a.append(ca[hit])
        keep_b.append(cb[hit])
    return np.concatenate(keep_a), np.concatenate(keep_b)


def _band_edges(
    every: np.ndarray, n: int, m: int, need: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Verified near-duplicate pairs (a, b), a < b (a pair may repeat), where rows >= n are
    known rows (pairs of two known rows are skipped); at most m slots of a pair differ."""
    screen = every.astype(np.uint8)  # the low byte (integer casts wrap), without a uint64 temp
    rows = np.arange(len(every))
    yield from _edges_within(every, screen, rows, np.arange(every.shape[1]), (n, m, need), 0)


def _edges_within(
    every: np.ndarray,
    screen: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    limits: tuple[int, int, int],
    depth: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs among `rows`, which agree on every slot outside `cols`: m + 1 strided bands of
    `cols` (pigeonhole: a near-duplicate pair agrees on one of them). A band group too large to
    pair in bulk is split again by bands of the remaining slots, where its pairs can differ, so a
    big group of templated prompts is never compared all against all."""
    n, m, need = limits
    for band in [cols[k :: m + 1] for k in range(m + 1)]:
        order, starts, lengths = _groups(row_hash(every[np.ix_(rows, band)]))
        order = rows[order]
        a, b = _small_pairs(order, starts, lengths)
        a, b = np.minimum(a, b), np.maximum(a, b)
        fresh = a < n
        yield _verify(every, screen, a[fresh], b[fresh], need)
        rest = np.setdiff1d(cols, band)
        for g in np.flatnonzero(lengths > SMALL_GROUP):
            members = np.sort(order[starts[g] : starts[g] + lengths[g]])
            if members[0] >= n:
                continue  # known rows only
            if (
                depth < MAX_DEPTH
                and len(rest) // (m + 1) >= MIN_BAND
                and _sparse(screen, members, need)
            ):
                yield from _edges_within(every, screen, members, rest, limits, depth + 1)
                continue
            fresh_m, known_m = members[members < n], members[members >= n]
            if len(fresh_m) > 1:
                i, j = _block_pairs(screen[fresh_m], screen[fresh_m], need, symmetric=True)
                yield _verify(every, screen, fresh_m[i], fresh_m[j], need)
            if len(known_m):
                i, j = _block_pairs(screen[fresh_m], screen[known_m], need)
                yield _verify(every, screen, fresh_m[i], known_m[j], need)


def _sparse(screen: np.ndarray, members: np.ndarray, need: int) -> bool:
    """Few members near the first one: a templated group, which re-banding splits up (a dense
    group of near-duplicates would land whole in every sub-band: compared once instead)."""
    probe = members[:: max(1, len(members) // 64)][:64]
    close = (screen[probe][:, None, :] == screen[members][None, :, :]).sum(axis=2) >= need
    return float(close.mean()) < 0.2


def component_pairs(
    sigs: np.ndarray, known_sigs: np.ndarray, threshold: float, lsh_bands: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(component label of each row, hit_row, hit_known): every (row, known row) pair that is a
    near-duplicate, sorted and unique. None when the banding does not apply: too low a
    threshold, or one where the caller's LSH of `lsh_bands` disjoint bands could miss a
    near-duplicate (its edge set would differ; the caller then uses its LSH)."""
    n, num_perm = sigs.shape
    if not band_columns(threshold, num_perm) or max_mismatches(threshold, num_perm) >= lsh_bands:
        return None
    # agree() keeps count / num_perm >= threshold, i.e. count >= num_perm - max_mismatches.
    need = num_perm - max_mismatches(threshold, num_perm)
    codes, reps = _identical(sigs)
    m = len(reps)
    # One copy of the signatures (a take, then a concatenate, held three at 317k x 64 x 8 B).
    known = known_sigs.reshape(-1, num_perm)
    every = np.empty((m + len(known), num_perm), dtype=sigs.dtype)
    np.take(sigs, reps, axis=0, out=every[:m], mode="clip")  # "raise" buffers a copy
    every[m:] = known
    forest = _Forest(m)
    hits_i, hits_j = [], []
    for a, b in _band_edges(every, m, max_mismatches(threshold, num_perm), need):
        known = b >= m
        forest.add(a[~known], b[~known])
        hits_i.append(a[known])
        hits_j.append(b[known] - m)
    labels = forest.labels()
    hit_rep = np.concatenate([np.zeros(0, np.int64), *hits_i])
    hit_known = np.concatenate([np.zeros(0, np.int64), *hits_j])
    hit_row, hit_known = _expand_hits(codes, hit_rep, hit_known)
    return labels[codes], hit_row, hit_known


class _Forest:
    """Connected components of an edge stream in O(rows) memory. The bands find a pair once per
    band it agrees on, and templated prompts make millions of edges: the edges are replaced by
    one (row, component root) edge per row whenever they outnumber the rows."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.size = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        self.rows.append(a)
        self.cols.append(b)
        self.size += len(a)
        if self.size > 2 * self.m:
            labels = self.labels()
            roots = np.full(int(labels.max()) + 1, self.m, np.int64)
            np.minimum.at(roots, labels, np.arange(self.m))
            root = roots[labels]
            moved = np.flatnonzero(root != np.arange(self.m))
            self.rows, self.cols, self.size = [moved], [root[moved]], len(moved)

    def labels(self) -> np.ndarray:
        rows = np.concatenate([np.zeros(0, np.int64), *self.rows])
        cols = np.concatenate([np.zeros(0, np.int64), *self.cols])
        graph = coo_matrix(
            (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(self.m, self.m)
        )
        return connected_components(graph, directed=False)[1]


def _identical(sigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row, first row of each code): rows with identical signatures share a code
    (they agree on every slot, so they are one component). Verified: a hash collision would
    merge two signatures, so then nothing is collapsed."""
    codes, uniq = pd.factorize(row_hash(sigs))
    reps = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    if len(sigs) and not np.array_equal(sigs, sigs[reps[codes]]):
        return np.arange(len(sigs)), np.arange(len(sigs))
    return codes.astype(np.int64), reps.astype(np.int64)


def _expand_hits(
    codes: np.ndarray, hit_rep: np.ndarray, hit_known: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Known hits of each collapsed signature, given to every row that carries it."""
    if len(hit_rep) == 0:
        return hit_rep, hit_known
    order, starts, lengths = _groups(codes)
    code_start = np.zeros(int(codes.max()) + 1, np.int64)
    code_len = np.zeros(int(codes.max()) + 1, np.int64)
    code_start[codes[order[starts]]], code_len[codes[order[starts]]] = starts, lengths
    width = np.int64(int(hit_known.max()) + 1)
    both = np.unique(hit_rep * width + hit_known)  # sorted and unique (row-major)
    rep, known = both // width, both % width
    times = code_len[rep]
    first = np.repeat(code_start[rep], times)
    offset = np.arange(int(times.sum())) - np.repeat(np.cumsum(times) - times, times)
    rows = order[first + offset]
    pairs = np.unique(rows * width + np.repeat(known, times))
    return pairs // width, pairs % width


def components(
    sigs: np.ndarray, known_sigs: np.ndarray, threshold: float, lsh_bands: int
) -> tuple[np.ndarray, list[set[int]]] | None:
    """(root of each row, known rows each row is a near-duplicate of): component_pairs with the
    hits as one set per row."""
    found = component_pairs(sigs, known_sigs, threshold, lsh_bands)
    if found is None:
        return None
    labels, hit_row, hit_known = found
    touched: list[set[int]] = [set() for _ in range(len(sigs))]
    for a, b in zip(hit_row.tolist(), hit_known.tolist(), strict=True):
        touched[a].add(b)
    return labels, touched
