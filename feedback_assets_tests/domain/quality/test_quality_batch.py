"""The batch scorer's fast repetition path (bucket filter, nesting, early stop) agrees with the
scalar reference on texts built to repeat heavily, in batches large enough to reach it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.quality.quality import assess_response, score_batch
from feedback_assets.domain.quality.quality_rules import QualityConfig


def _texts(seed: int, n: int = 3000) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = np.array(
        [
            "the",
            "cat",
            "sat",
            "on",
            "a",
            "mat",
            "and",
            "it",
            "was",
            "very",
            "good",
            "so",
            "we",
            "ran",
        ]
    )
    out = []
    for i in range(n):
        words = vocab[rng.integers(0, len(vocab) - (i % 9), size=int(rng.integers(5, 160)))]
        text = " ".join(words)
        if i % 7 == 0:
            text = "\n".join([text[:40]] * int(rng.integers(2, 5)))
        if i % 11 == 0:
            text = ("loop again " * int(rng.integers(3, 60))).strip()
        out.append(text)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_matches_scalar_on_repetitive_text(seed: int) -> None:
    texts = _texts(seed)
    config = QualityConfig()
    batch = score_batch(pd.Series(texts), config)
    for i in range(0, len(texts), 37):  # a spread sample of the scalar path (it is slow)
        scalar = assess_response(texts[i], config)
        assert batch["score"].iloc[i] == pytest.approx(scalar["score"], abs=1e-12), texts[i]
        by_check = {c["check"]: c for c in scalar["checks"]}
        assert bool(batch["repetition_passed"].iloc[i]) == by_check["repetition"]["passed"], texts[
            i
        ]
        assert batch["repetition_score"].iloc[i] == pytest.approx(
            by_check["repetition"]["score"], abs=1e-12
        )
