"""Agreement of an answer with a reference answer: token-level F1 (SQuAD-style)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"[\w']+")


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall((text or "").lower())


def token_f1(answer: str | None, reference: str | None) -> float:
    """Harmonic mean of token precision and recall; NaN when there is no reference."""
    if not isinstance(reference, str) or not reference.strip():
        return float("nan")  # no reference answer (None, blank, or NaN read from a frame)
    ref = Counter(tokens(reference))
    got = Counter(tokens(answer))
    if not ref or not got:
        return float(not ref and not got)
    overlap = sum((ref & got).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def agreement_scores(answers: Sequence[str | None], references: Sequence[str | None]) -> np.ndarray:
    """token_f1 per prompt (eval sets are hundreds of prompts: a loop is fine here)."""
    return np.array([token_f1(a, r) for a, r in zip(answers, references, strict=True)], dtype=float)
