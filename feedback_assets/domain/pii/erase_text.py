"""Remove one user's words from aggregate explanations (drift verdicts) during erasure. Pure.

Drift verdicts quote traffic: the novelty test keeps example prompts (their first line, up to
200 characters; a reason quotes the first 80 of two of them) and the embedding and novelty tests
list over-represented words (top terms). A verdict's numbers stay; what came from the user goes:
an example equal to one of the user's prompts, and any listed term that occurs in the user's
texts. A term is a single word shared by many texts, so this errs on the side of removal: a
common word the user also used leaves the explanation of windows the user took part in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from feedback_assets.domain.drift.embedding import TOKEN_PATTERN

EXAMPLE_CHARS = 200  # novelty.py keeps `text.split("\n", 1)[0][:200]`
REASON_EXAMPLE_CHARS = 80  # drift._reason quotes `repr(example[:80])`
ERASED = "[erased]"
_TOKEN = re.compile(TOKEN_PATTERN)
_EXAMPLES_AT = ", e.g. "
_TERMS_AT = ", more of: "


def example_keys(prompts: Iterable[str]) -> frozenset[str]:
    """How a drift verdict quotes each prompt as an example."""
    return frozenset(p.split("\n", 1)[0][:EXAMPLE_CHARS] for p in prompts if p)


def text_tokens(texts: Iterable[str]) -> frozenset[str]:
    """The lower-cased words of the texts, tokenized as the drift tests tokenize."""
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(_TOKEN.findall(text.lower()))
    return frozenset(found)


def scrub_details(value: Any, examples: frozenset[str], tokens: frozenset[str]) -> Any:
    """`value` (parsed details JSON) without the user's examples and terms."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "examples" and isinstance(item, list):
                out[key] = [e for e in item if not (isinstance(e, str) and e in examples)]
            else:
                out[key] = scrub_details(item, examples, tokens)
        return out
    if isinstance(value, list):
        return [
            scrub_details(v, examples, tokens)
            for v in value
            if not (isinstance(v, dict) and str(v.get("term", "")) in tokens and "term" in v)
        ]
    return value


def scrub_reason(reason: str, examples: frozenset[str], tokens: frozenset[str]) -> str:
    """A drift reason without quoted examples of the user and without the user's terms."""
    if _EXAMPLES_AT in reason:
        head, quoted = reason.split(_EXAMPLES_AT, 1)
        if any(repr(e[:REASON_EXAMPLE_CHARS]) in quoted for e in examples):
            return f"{head}{_EXAMPLES_AT}{ERASED}"
    if _TERMS_AT in reason:
        head, listed = reason.split(_TERMS_AT, 1)
        terms = listed.split(", ")
        kept = [t for t in terms if t not in tokens]
        if len(kept) != len(terms):
            return f"{head}{_TERMS_AT}{', '.join(kept) if kept else ERASED}"
    return reason
