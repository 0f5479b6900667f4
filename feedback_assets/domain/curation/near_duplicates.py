"""Near-duplicate components of MinHash signatures, exactly, without pairwise candidate lists.

Two signatures are near-duplicates when they agree on at least `threshold` of their slots, so they
differ in at most m slots. Cut the slots into m + 1 disjoint bands: by the pigeonhole principle
two near-duplicates agree on a whole band. Grouping rows by each band's exact bytes therefore
finds every near-duplicate pair; each candidate is verified on the full signature, and a
candidate already in the row's component is skipped (components are all the split needs). A
wide band rarely matches by chance, so far fewer pairs are verified than with a low-threshold
LSH, and the result is the same edge set.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MIN_BAND = 2  # narrower bands match by chance too often to save work: callers fall back
BLOCK_BYTES = 32 << 20  # bound on one verification block (rows x rows x slots booleans)


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


def _groups(band: np.ndarray) -> Iterator[np.ndarray]:
    """Row indices sharing one exact band value, for every value held by two rows or more."""
    rows = np.ascontiguousarray(band).view(np.dtype((np.void, band.dtype.itemsize * band.shape[1])))
    _, inverse, counts = np.unique(rows.ravel(), return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for g in np.flatnonzero(counts > 1):
        yield order[bounds[g] : bounds[g + 1]]


def _pairs(
    a: np.ndarray, b: np.ndarray, need: int, symmetric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (into a, into b) of rows equal in at least `need` slots, in row blocks so the
    comparison cube stays within ~BLOCK_BYTES. `symmetric` (a is b): only pairs i < j."""
    out_i, out_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    step = max(1, BLOCK_BYTES // max(1, b.shape[0] * b.shape[1]))
    for start in range(0, a.shape[0], step):
        first = start + 1 if symmetric else 0  # rows of b below the block were compared already
        equal = (a[start : start + step, None, :] == b[None, first:, :]).sum(axis=2, dtype=np.int16)
        i, j = np.nonzero(equal >= need)
        keep = (i + start < j + first) if symmetric else slice(None)
        out_i.append(i[keep] + start)
        out_j.append(j[keep] + first)
    return np.concatenate(out_i), np.concatenate(out_j)


def components(
    sigs: np.ndarray, known_sigs: np.ndarray, threshold: float, lsh_bands: int
) -> tuple[np.ndarray, list[set[int]]] | None:
    """(root of each row, known rows each row is a near-duplicate of); None when the banding does
    not apply: too low a threshold, or one where the caller's LSH of `lsh_bands` disjoint bands
    could miss a near-duplicate (its edge set would differ; the caller then uses its LSH)."""
    n, num_perm = sigs.shape
    width = band_width(threshold, num_perm)
    if width == 0 or max_mismatches(threshold, num_perm) >= lsh_bands:
        return None
    # agree() keeps count / num_perm >= threshold, i.e. count >= num_perm - max_mismatches.
    need = num_perm - max_mismatches(threshold, num_perm)
    touched: list[set[int]] = [set() for _ in range(n)]
    edges_i, edges_j = [np.arange(n)], [np.arange(n)]
    every = np.concatenate([sigs, known_sigs.reshape(-1, num_perm).astype(sigs.dtype)])
    for start in range(0, width * (num_perm // width), width):
        for members in _groups(every[:, start : start + width]):
            fresh, known = members[members < n], members[members >= n] - n
            if len(known) and len(fresh):
                i, j = _pairs(sigs[fresh], known_sigs[known], need)
                for a, b in zip(fresh[i].tolist(), known[j].tolist(), strict=True):
                    touched[a].add(b)
            if len(fresh) > 1:
                i, j = _pairs(sigs[fresh], sigs[fresh], need, symmetric=True)
                edges_i.append(fresh[i])
                edges_j.append(fresh[j])
    rows, cols = np.concatenate(edges_i), np.concatenate(edges_j)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels, touched
