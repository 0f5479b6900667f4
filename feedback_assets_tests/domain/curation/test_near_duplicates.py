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
