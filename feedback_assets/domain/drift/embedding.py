"""Deterministic offline text embedder: hashed word uni/bi-grams -> fixed seeded random projection.

No download, no model: stable across processes (CRC32 token hashes, seeded numpy projection).
Tokenizing is vectorized with polars; only the batch's distinct words are hashed in Python.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import polars as pl
from scipy import sparse

TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z]+)?"
_BUCKET_BITS = 14  # 16,384 hashed n-gram buckets before projection
_MIX = np.uint64(0x9E3779B97F4A7C15)


def tokenize(texts: Sequence[str]) -> pl.DataFrame:
    """Long frame (doc: u32, tok: str) of lower-cased word tokens, in document order."""
    series = pl.Series("tok", list(texts), dtype=pl.String).fill_null("")
    frame = pl.DataFrame(
        {
            "doc": pl.int_range(0, len(series), dtype=pl.UInt32, eager=True),
            "tok": series.str.to_lowercase().str.extract_all(TOKEN_PATTERN),
        }
    )
    return frame.explode("tok").drop_nulls("tok")


@lru_cache(maxsize=4)
def _projection(dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, dim, 0x5EED])
    return (rng.standard_normal((1 << _BUCKET_BITS, dim)) / np.sqrt(dim)).astype(np.float32)


def _token_hashes(tokens: pl.DataFrame, seed: int) -> np.ndarray:
    vocab = tokens.get_column("tok").unique()
    start = seed & 0xFFFFFFFF
    codes = np.fromiter(
        (zlib.crc32(t.encode(), start) for t in vocab.to_list()), np.uint64, len(vocab)
    )
    lookup = pl.DataFrame({"tok": vocab, "h": codes})
    return tokens.join(lookup, on="tok", how="left", maintain_order="left")["h"].to_numpy()


def _buckets(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mixed = h * _MIX  # wraps mod 2**64, spreads CRC bits
    bucket = (mixed >> np.uint64(64 - _BUCKET_BITS)).astype(np.int64)
    sign = np.where((mixed >> np.uint64(20)) & np.uint64(1), 1.0, -1.0).astype(np.float32)
    return bucket, sign


def hashing_embed(texts: Sequence[str], dim: int = 256, seed: int = 0) -> np.ndarray:
    """L2-normalized float32 (len(texts), dim) embeddings; empty texts map to the zero vector."""
    if dim < 2:
        raise ValueError(f"dim: must be >= 2, got {dim}")
    n = len(texts)
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    tokens = tokenize(texts)
    doc = tokens.get_column("doc").to_numpy().astype(np.int64)
    h = _token_hashes(tokens, seed) if doc.size else np.zeros(0, np.uint64)
    same_doc = doc[:-1] == doc[1:]
    bigram = (h[:-1] * np.uint64(1_000_003) + (h[1:] ^ np.uint64(0xB16B00B5)))[same_doc]
    all_h = np.concatenate([h, bigram])
    all_doc = np.concatenate([doc, doc[:-1][same_doc]])
    bucket, sign = _buckets(all_h)
    counts = sparse.csr_matrix((sign, (all_doc, bucket)), shape=(n, 1 << _BUCKET_BITS))
    counts.sum_duplicates()
    # Sublinear term frequency so one repeated word does not dominate a document.
    counts.data = np.sign(counts.data) * np.log1p(np.abs(counts.data))
    dense = np.asarray(counts @ _projection(dim, seed), dtype=np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
