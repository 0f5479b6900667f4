"""Replacing found spans of a text with a marker (the optional name and address stages)."""

from __future__ import annotations

from collections.abc import Sequence


def replace_spans(text: str, spans: Sequence[tuple[int, int]], marker: str) -> tuple[str, int]:
    """`text` with each (start, end) span, in order and not overlapping, replaced by `marker`;
    and the number of spans."""
    if not spans:
        return text, 0
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], marker]
        last = end
    parts.append(text[last:])
    return "".join(parts), len(spans)
