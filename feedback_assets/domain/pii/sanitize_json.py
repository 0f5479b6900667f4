"""PII redaction of JSON text columns (metadata): every string value, keys untouched."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from feedback_assets.domain.pii.pii_optional import PiiRule
from feedback_assets.domain.pii.pii_patterns import PiiPattern
from feedback_assets.domain.pii.sanitize import (
    ColumnInput,
    _apply,
    _changes,
    _chunks,
    _concat,
    _zero_counts,
    sanitize_text,
    sanitize_value,
)

FEW_DISTINCT = 32  # a chunk with at most this many distinct values is redacted per value
_ANCHOR = re.compile(r"\^|\$|\\[AzZ]")


def sanitize_json_column(
    values: ColumnInput, custom: Sequence[PiiRule] = ()
) -> tuple[pa.Array, dict[str, int]]:
    """Redact every string value inside a column of JSON text (metadata); keys untouched.

    Rows stay byte-identical unless something was redacted (then re-serialized compactly).
    A row that is not valid JSON is redacted as plain text, so nothing leaks.
    Pre-filter: without backslash escapes, each string value appears verbatim in the raw text
    between quotes (non-word, like a string edge), so a row the text pipeline leaves unchanged
    holds no PII in any value. Custom patterns with anchors disable this shortcut.
    """
    key = tuple(custom)
    counts = _zero_counts(key)
    anchored = any(isinstance(p, PiiPattern) and _ANCHOR.search(p.regex) for p in key)
    out: list[pa.Array] = []
    for chunk in _chunks(values):
        encoded = pc.dictionary_encode(chunk)
        if len(encoded.dictionary) <= FEW_DISTINCT:
            # Mostly repeats (a route, an A/B arm): each distinct value once, scalar.
            occurrences = np.bincount(
                encoded.indices.drop_null().to_numpy(), minlength=len(encoded.dictionary)
            )
            fixed = []
            for raw, times in zip(encoded.dictionary.to_pylist(), occurrences, strict=True):
                one = _zero_counts(key)
                fixed.append(_json_row(raw, key, one))
                for name, n in one.items():
                    counts[name] += n * int(times)
            out.append(pa.array(fixed, pa.large_string()).take(encoded.indices))
            continue
        if anchored:
            flagged = chunk.is_valid().to_numpy(zero_copy_only=False)
        else:
            escaped = pc.match_substring(chunk, "\\").fill_null(False)
            flagged = escaped.to_numpy(zero_copy_only=False).copy()
            idx, new = _changes(chunk, key, _zero_counts(key))
            old = pl.Series(chunk.take(pa.array(idx, pa.int64())), dtype=pl.String)
            flagged[idx[(new != old).to_numpy()]] = True
        rows = np.flatnonzero(flagged)
        fixed = [_json_row(t, key, counts) for t in chunk.take(pa.array(rows)).to_pylist()]
        out.append(_apply(chunk, rows, pl.Series(fixed, dtype=pl.String)))
    return _concat(out), counts


def _json_row(raw: str, custom: tuple[PiiRule, ...], counts: dict[str, int]) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        text, c = sanitize_text(raw, custom)
    else:
        clean, c = sanitize_value(doc, custom)
        text = json.dumps(clean, ensure_ascii=False, separators=(",", ":")) if c else raw
    for name, n in c.items():
        counts[name] += n
    return text
