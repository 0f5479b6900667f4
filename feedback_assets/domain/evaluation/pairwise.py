"""The pairwise judge's prompt and answer parsing. Asked twice with the answers swapped, a
preference counts only when it survives the swap, which cancels position bias."""

from __future__ import annotations

import re

import numpy as np

PAIRWISE_RUBRIC_VERSION = "pairwise-v1"
_SYSTEM = (
    "You compare two answers to the same user request. Judge helpfulness, correctness and "
    "format. Reply with exactly one token: A, B, or TIE."
)
_VERDICT = re.compile(r"\b(A|B|TIE)\b")


def pairwise_messages(prompt: str, first: str, second: str) -> list[dict[str, str]]:
    user = f"Request:\n{prompt}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}\n\nBetter answer:"
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_preference(text: str | None) -> int | None:
    """+1 for A, -1 for B, 0 for TIE, None when the answer says none of them."""
    match = _VERDICT.search((text or "").upper())
    if match is None:
        return None
    return {"A": 1, "B": -1, "TIE": 0}[match.group(1)]


def swapped_votes(candidate_first: list[int | None], current_first: list[int | None]) -> np.ndarray:
    """+1 candidate, -1 current, 0 otherwise: only a preference that holds in both orders."""
    a = np.array([0 if v is None else v for v in candidate_first], dtype=int)
    # In the swapped call, "A" is the current model: flip it into the candidate's terms.
    b = -np.array([0 if v is None else v for v in current_first], dtype=int)
    return np.where(a == b, a, 0)
