"""Spool lines: validated records, redacted and hashed, as newline-terminated JSON.

One record per line with its kind in "k" ("e" event, "s" signal, "d" dead letter); the field
names are the store's columns (spool.LINE_SCHEMA). The batch form redacts all prompts and
responses of a batch in one vectorized pass (the sanitizer's cost is mostly per call).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from feedback_assets.domain.sanitize import (
    PiiPattern,
    hash_user_id,
    sanitize_column,
    sanitize_json_column,
    sanitize_text,
    sanitize_value,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
DIGEST_CACHE = 100_000  # user-id HMACs kept in memory (active users repeat)
SHORT_TEXT = 64  # metadata strings up to this length have their redaction remembered
SHORT_CACHE = 10_000


def epoch_us(ts: datetime) -> int:
    """Exact epoch microseconds of an aware datetime (no float rounding)."""
    return (ts - _EPOCH) // _US


class LineEncoder:
    def __init__(
        self,
        patterns: Sequence[PiiPattern],
        hash_key: bytes,
        sanitize_at_source: bool,
        stats: Counter[str],
    ) -> None:
        self.patterns = tuple(patterns)
        self.hash_key = hash_key
        self.sanitize_at_source = sanitize_at_source
        self.stats = stats
        self._digests: dict[str, str] = {}
        self._short: dict[str, tuple[str, Counter[str]]] = {}

    def clean(self, value: Any) -> Any:
        if not self.sanitize_at_source or value is None:
            return value
        cleaned, counts = (
            sanitize_text(value, self.patterns)
            if isinstance(value, str)
            else sanitize_value(value, self.patterns)
        )
        if counts:
            self._count(counts)
        return cleaned

    def clean_metadata(self, value: dict[str, Any]) -> Any:
        """Same result as clean(); a flat dict's short strings (often categorical, like a route
        name) are redacted once and remembered, in memory only."""
        if not self.sanitize_at_source or any(
            type(v) in (dict, list, tuple) for v in value.values()
        ):
            return self.clean(value)
        return {k: self._clean_short(v) if type(v) is str else v for k, v in value.items()}

    def _clean_short(self, text: str) -> str:
        if len(text) > SHORT_TEXT:
            return str(self.clean(text))
        hit = self._short.get(text)
        if hit is None:
            if len(self._short) >= SHORT_CACHE:
                self._short.clear()
            hit = self._short[text] = sanitize_text(text, self.patterns)
        if hit[1]:
            self._count(hit[1])
        return hit[0]

    def hash(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        digest = self._digests.get(user_id)
        if digest is None:
            if len(self._digests) >= DIGEST_CACHE:
                self._digests.clear()
            digest = self._digests[user_id] = hash_user_id(user_id, self.hash_key)
        return digest

    def _count(self, counts: Mapping[str, int]) -> None:
        self.stats.update({f"redacted.{k}": v for k, v in counts.items() if v})

    def event_line(self, r: dict[str, Any]) -> bytes:
        row = {
            **r,
            "k": "e",
            "prompt": self.clean(r["prompt"]),
            "response": self.clean(r["response"]),
            "user_id": self.hash(r["user_id"]),
            "metadata": orjson.dumps(self.clean_metadata(r["metadata"])).decode(),
            "timestamp_us": epoch_us(r["timestamp"]),
        }
        del row["timestamp"]
        return orjson.dumps(row) + b"\n"

    def event_lines(self, records: list[dict[str, Any]]) -> bytes:
        """The batch form of event_line: one vectorized redaction pass for all texts.

        Lines are then encoded per row with orjson: measured faster than building a polars
        frame and writing NDJSON (about 1 us against 2.3 us per row).
        """
        n = len(records)
        texts = [r["prompt"] for r in records] + [r["response"] for r in records]
        metadata = [orjson.dumps(r["metadata"]).decode() for r in records]
        if self.sanitize_at_source and n:
            clean_texts, c1 = sanitize_column(texts, self.patterns)
            clean_meta, c2 = sanitize_json_column(metadata, self.patterns)
            self._count(c1)
            self._count(c2)
            texts, metadata = clean_texts.to_pylist(), clean_meta.to_pylist()
        lines = []
        for r, prompt, response, meta in zip(records, texts[:n], texts[n:], metadata, strict=True):
            row = {
                **r,
                "k": "e",
                "prompt": prompt,
                "response": response,
                "user_id": self.hash(r["user_id"]),
                "metadata": meta,
                "timestamp_us": epoch_us(r["timestamp"]),
            }
            del row["timestamp"]
            lines.append(orjson.dumps(row))
        return b"\n".join(lines) + b"\n" if lines else b""

    def signal_line(self, r: dict[str, Any]) -> bytes:
        row = {
            **r,
            "k": "s",
            "edited_response": self.clean(r["edited_response"]),
            "user_id": self.hash(r["user_id"]),
            "metadata": orjson.dumps(self.clean(r["metadata"])).decode(),
            "timestamp_us": epoch_us(r["timestamp"]),
        }
        del row["timestamp"]
        return orjson.dumps(row) + b"\n"
