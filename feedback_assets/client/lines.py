"""Spool lines: validated records, redacted and hashed, as newline-terminated JSON.

One record per line with its kind in "k" ("e" event, "s" signal, "d" dead letter); the field
names are the store's columns (spool.LINE_SCHEMA). The batch form redacts prompts and responses
in one vectorized pass and writes the lines with polars, so no per-row JSON encoding runs there.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl

from feedback_assets.client.spool import LINE_SCHEMA
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
_EVENT_FIELDS = [name for name in LINE_SCHEMA if name != "k"][:14]


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
            "metadata": orjson.dumps(self.clean(r["metadata"])).decode(),
            "timestamp_us": epoch_us(r["timestamp"]),
        }
        del row["timestamp"]
        return orjson.dumps(row) + b"\n"

    def event_lines(self, records: list[dict[str, Any]]) -> bytes:
        """The batch form of event_line: one vectorized redaction pass for all texts."""
        n = len(records)
        if n == 0:
            return b""
        texts: Any = [r["prompt"] for r in records] + [r["response"] for r in records]
        metadata: Any = [orjson.dumps(r["metadata"]).decode() for r in records]
        if self.sanitize_at_source:
            texts, c1 = sanitize_column(texts, self.patterns)
            metadata, c2 = sanitize_json_column(metadata, self.patterns)
            self._count(c1)
            self._count(c2)
        texts = pl.Series(texts).cast(pl.Utf8)
        columns: dict[str, Any] = {
            name: [r[name] for r in records]
            for name in _EVENT_FIELDS
            if name not in ("prompt", "response", "user_id", "metadata", "timestamp_us")
        }
        columns["k"] = ["e"] * n
        columns["prompt"] = texts.slice(0, n)
        columns["response"] = texts.slice(n)
        columns["user_id"] = [self.hash(r["user_id"]) for r in records]
        columns["metadata"] = pl.Series(metadata).cast(pl.Utf8)
        columns["timestamp_us"] = [epoch_us(r["timestamp"]) for r in records]
        frame = pl.DataFrame(
            {
                name: pl.Series(name, columns[name], dtype=LINE_SCHEMA[name])
                for name in ["k", *_EVENT_FIELDS]
            }
        )
        buf = io.BytesIO()
        frame.write_ndjson(buf)
        out = buf.getvalue()
        return out if out.endswith(b"\n") else out + b"\n"

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
