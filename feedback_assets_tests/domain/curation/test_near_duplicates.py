"""Pigeonhole banding finds exactly the near-duplicate components the LSH path finds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.curation.dedupe import minhash_signatures, normalize_text
from feedback_assets.domain.curation.eval_split import NUM_PERM, _lsh, _lsh_components
from feedback_assets.domain.curation.near_duplicates import (
    band_width,
    components,
    max_mismatches,
)


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups = pd.Series(np.arange(len(labels))).groupby(labels).indices.values()
    return {frozenset(g.tolist()) for g in groups}


def _prompts(n: int, seed: int) -> pd.Series:
    """Templated demo prompts plus edited copies: near-duplicate groups of several sizes."""
    events, _ = generate_stream(n, seed=seed, deployment_id="support-bot")
    base = events["prompt"]
    edited = base.iloc[::7] + " thanks"  # one word more: near, not equal
    retyped = base.iloc[::11].str.replace("the", "teh", n=1, regex=False)
    norm = normalize_text(pd.concat([base, edited, retyped], ignore_index=True))
    return norm.drop_duplicates().reset_index(drop=True)


def test_pigeonhole_bands_cover_every_near_duplicate() -> None:
    assert max_mismatches(0.85, 64) == 9  # 55 of 64 slots must agree
    assert band_width(0.85, 64) == 6  # 10 bands: 9 mismatches leave one band whole
    assert band_width(0.3, 64) == 0  # too narrow: the LSH path takes over


@pytest.mark.parametrize("threshold", [0.85, 0.9, 0.95])
def test_components_equal_the_lsh_path(threshold: float) -> None:
    norm = _prompts(1500, seed=2)
    fresh, known = norm.iloc[200:], norm.iloc[:200]
    sigs = minhash_signatures(fresh.reset_index(drop=True), NUM_PERM, 0)
    known_sigs = minhash_signatures(known.reset_index(drop=True), NUM_PERM, 0)
    exact = components(sigs, known_sigs, threshold, _lsh(threshold).b)
    assert exact is not None
    roots, touched = _lsh_components(sigs, known_sigs, threshold, 0)
    assert _partition(exact[0]) == _partition(roots)
    assert exact[1] == touched
    assert any(len(g) > 1 for g in _partition(roots))  # the data has near-duplicate groups
    assert any(touched)


def test_low_threshold_falls_back() -> None:
    sigs = minhash_signatures(_prompts(50, seed=1), NUM_PERM, 0)
    assert components(sigs, sigs[:0], 0.4, _lsh(0.4).b) is None
    # 20 mismatches may break all of the LSH's bands: its edge set could differ, so it decides
    assert components(sigs, sigs[:0], 0.7, _lsh(0.7).b) is None


def _brute_force(
    sigs: np.ndarray, known_sigs: np.ndarray, threshold: float
) -> tuple[set[frozenset[int]], set[tuple[int, int]]]:
    """Every pair compared: the components and (row, known row) hits by definition."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    need = sigs.shape[1] - max_mismatches(threshold, sigs.shape[1])
    same = (sigs[:, None, :] == sigs[None, :, :]).sum(axis=2) >= need
    i, j = np.nonzero(same)
    _, labels = connected_components(coo_matrix((np.ones(len(i)), (i, j))), directed=False)
    hit = (sigs[:, None, :] == known_sigs[None, :, :]).sum(axis=2) >= need
    return _partition(labels), set(zip(*(a.tolist() for a in np.nonzero(hit)), strict=True))


@pytest.mark.parametrize("small_group,block_bytes", [(48, 32 << 20), (2, 1 << 10), (3, 64)])
def test_components_equal_all_pairs_whatever_the_group_and_block_sizes(
    monkeypatch: pytest.MonkeyPatch, small_group: int, block_bytes: int
) -> None:
    """Templated prompts (big band groups), copies with identical signatures, and known rows:
    bulk pairing, re-banding of big groups and block comparison find exactly the edges that
    comparing every pair finds, also when a near-duplicate group is split across blocks."""
    import feedback_assets.domain.curation.near_duplicates as nd

    monkeypatch.setattr(nd, "SMALL_GROUP", small_group)
    monkeypatch.setattr(nd, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(nd, "PAIR_CHUNK", 7)
    norm = _prompts(900, seed=4)
    sigs = minhash_signatures(norm, NUM_PERM, 0)
    sigs = np.concatenate([sigs, sigs[::13]])  # identical signatures (collapsed first)
    fresh, known = sigs[150:], sigs[:150]
    found = nd.component_pairs(fresh, known, 0.85, _lsh(0.85).b)
    assert found is not None
    labels, hit_row, hit_known = found
    parts, hits = _brute_force(fresh, known, 0.85)
    assert _partition(labels) == parts
    assert set(zip(hit_row.tolist(), hit_known.tolist(), strict=True)) == hits
    assert max(len(p) for p in parts) > 3 and len(hits) > 10  # the data exercises both


def test_strided_bands_cover_every_slot_once() -> None:
    from feedback_assets.domain.curation.near_duplicates import band_columns

    bands = band_columns(0.85, 64)
    assert len(bands) == 10 and min(len(b) for b in bands) >= 6
    assert sorted(np.concatenate(bands).tolist()) == list(range(64))


def test_edge_stream_components_equal_the_whole_edge_set() -> None:
    """_Forest replaces its edges by a spanning forest whenever they outnumber the rows (the
    bands find a pair once per band it agrees on): the components stay those of all edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from feedback_assets.domain.curation.near_duplicates import _Forest

    rng = np.random.default_rng(5)
    m = 400
    # 2,700 edges inside blocks of 25 rows (rows from 300 on stay alone): 3 compactions.
    rows = rng.integers(0, 300, size=2700)
    cols = rows // 25 * 25 + rng.integers(0, 25, size=2700)
    forest = _Forest(m)
    for a, b in zip(np.split(rows, 30), np.split(cols, 30), strict=True):
        forest.add(a, b)
        assert forest.size <= 2 * m + 90
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))
    _, want = connected_components(graph, directed=False)
    assert _partition(forest.labels()) == _partition(want)
    assert 1 < len(_partition(want)) < m  # merged groups and singletons both


def test_normalize_text_casefolds_every_script_and_collapses_whitespace() -> None:
    """ASCII rows are lowered in Rust, the others casefolded by Python: one key either way."""
    raw = pd.Series(
        [
            "Straße  GROSS",
            "ΣΊΣΥΦΟΣ",
            "İstanbul\tX",
            None,
            42,
            "ﬁne\u00a0Café",
            "\u2003Lead ",
            "ABC",
        ],
        dtype=object,
    )
    want = [t.casefold() if isinstance(t, str) else t for t in raw.fillna("").astype(str)]
    want = [" ".join(t.split()) for t in want]
    assert normalize_text(raw).tolist() == want
    assert want[:2] == ["strasse gross", "σίσυφοσ"] and want[5] == "fine café"
    assert normalize_text(pd.Series(["AbC", None], dtype="str")).tolist() == ["abc", ""]
