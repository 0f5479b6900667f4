"""Text keys, MinHash signatures and keep-first dedupe (event id, exact text, near-duplicate).

Also the deterministic fallback embedding used by diverse curation when none is supplied.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from datasketch import LeanMinHash, MinHashLSH


def normalize_text(values: pd.Series) -> pd.Series:
    """Casefold and collapse whitespace: the exact-duplicate key."""
    texts = pl.Series(pa.array(values.fillna("").astype(str), type=pa.large_string()))
    # ASCII text casefolds to its lowercase, in Rust; only other rows go through str.casefold
    # (mapping every row through Python cost seconds and a copy of each text per 300k rows).
    folded = texts.str.to_lowercase()
    other = (~texts.str.contains(r"^[\x00-\x7F]*$")).arg_true()
    if len(other):
        folded = folded.scatter(other, [t.casefold() for t in texts.gather(other).to_list()])
    # Matching only runs of 2+ or non-space whitespace skips the (common) single spaces: 5x faster.
    collapsed = folded.str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars()
    return pd.Series(collapsed.to_arrow(), index=values.index, dtype="str")


def text_keys(norm: pd.Series) -> np.ndarray:
    """64-bit hash of normalized text (collisions ~1e-8 at 1M rows)."""
    return pl.Series(norm.to_numpy(dtype=object), dtype=pl.String).hash(seed=7).to_numpy()


def minhash_signatures(
    norm: pd.Series, num_perm: int = 64, seed: int = 0, shingle: int = 3
) -> np.ndarray:
    """MinHash signatures (n x num_perm, uint64) over word `shingle`-grams.

    One-permutation hashing with rotation densification (Shrivastava & Li, 2014): each shingle is
    hashed once and lands in one of `num_perm` bins, so the cost is O(shingles), not
    O(shingles x num_perm) as with datasketch's per-document permutations. The values go into
    datasketch's MinHashLSH unchanged.
    """
    n = len(norm)
    out = np.empty((n, num_perm), dtype=np.uint64)
    values = norm.to_numpy(dtype=object)
    for start in range(0, n, 8192):
        chunk = values[start : start + 8192]
        rows, h = _shingle_hashes(chunk, seed, shingle)
        out[start : start + len(chunk)] = _oph(rows, h, len(chunk), num_perm)
    return out


def _shingle_hashes(chunk: np.ndarray, seed: int, shingle: int) -> tuple[np.ndarray, np.ndarray]:
    tok = (
        pl.DataFrame({"t": pl.Series(chunk, dtype=pl.String)})
        .with_row_index("r")
        .with_columns(pl.col("t").str.split(" "))
        .explode("t")
    )
    rows = tok["r"].to_numpy().astype(np.int64)
    h = tok["t"].hash(seed=seed).to_numpy()
    m = len(h) - shingle + 1
    with np.errstate(over="ignore"):
        if m > 0:
            sh = h[:m].copy()
            for k in range(1, shingle):
                sh = sh * np.uint64(0x9E3779B97F4A7C15) + h[k : m + k]
            ok = rows[:m] == rows[shingle - 1 :]
            sh_rows, sh = rows[:m][ok], sh[ok]
        else:
            sh_rows, sh = rows[:0], h[:0].copy()
    # Documents shorter than one shingle fall back to their words.
    short = np.bincount(rows, minlength=len(chunk))[rows] < shingle
    return np.concatenate([sh_rows, rows[short]]), _mix64(np.concatenate([sh, h[short]]))


def _mix64(x: np.ndarray) -> np.ndarray:
    # splitmix64 finalizer: spreads the shingle hash over all 64 bits.
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _oph(rows: np.ndarray, h: np.ndarray, n_docs: int, k: int) -> np.ndarray:
    empty = np.uint64(np.iinfo(np.uint64).max)
    bins = (h % np.uint64(k)).astype(np.int64)
    vals = h >> np.uint64(16)
    flat = np.full(n_docs * k, empty, dtype=np.uint64)
    np.minimum.at(flat, rows * k + bins, vals)
    sig = flat.reshape(n_docs, k)
    filled = sig != empty
    if filled.all():
        return sig
    # Rotation densification: an empty bin borrows the next filled bin (circularly), offset by
    # the distance so borrowed values differ from the originals.
    cols = np.arange(2 * k)
    pos = np.where(np.hstack([filled, filled]), cols, 2 * k)
    nxt = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1][:, :k]
    dist = (nxt - cols[:k]).astype(np.uint64)
    src = np.take_along_axis(np.hstack([sig, sig]), np.minimum(nxt, 2 * k - 1), axis=1)
    with np.errstate(over="ignore"):
        dense = src + dist * np.uint64(0x9E3779B97F4A7C15)
    return np.where(filled, sig, dense)


class Deduper:
    """Keep-first dedupe by event id, exact normalized text and MinHash LSH near-duplicates."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 64, seed: int = 0) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.seed = seed
        self._ids: set[str] = set()
        self._keys: set[int] = set()
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._sigs: dict[int, np.ndarray] = {}

    def prepare(self, event_ids: pd.Series, texts: pd.Series) -> tuple[np.ndarray, ...]:
        """Vectorized part: id/exact-duplicate mask against what is kept, keys, signatures."""
        ids = event_ids.astype(str).to_numpy()
        norm = normalize_text(texts)
        keys = text_keys(norm)
        fresh = ~pd.Series(ids).isin(self._ids).to_numpy()
        fresh &= ~pd.Series(keys).isin(self._keys).to_numpy()
        fresh &= ~pd.Series(ids).duplicated().to_numpy() & ~pd.Series(keys).duplicated().to_numpy()
        sigs = np.zeros((len(ids), self.num_perm), dtype=np.uint64)
        if fresh.any():
            sigs[fresh] = minhash_signatures(norm[fresh], self.num_perm, self.seed)
        return fresh, ids, keys, sigs

    def try_add(self, event_id: str, key: int, sig: np.ndarray) -> bool:
        """Sequential part: admit unless a kept item's estimated Jaccard >= threshold."""
        if event_id in self._ids or int(key) in self._keys:
            return False
        # Our own permutation family; the LSH only bands the values, so any fixed label works.
        mh = LeanMinHash(seed=self.seed, hashvalues=sig, scheme="legacy")
        for cand in self._lsh.query(mh):
            if float(np.mean(self._sigs[cand] == sig)) >= self.threshold:
                return False
        slot = len(self._sigs)
        self._lsh.insert(slot, mh, check_duplication=False)
        self._sigs[slot] = sig
        self._ids.add(event_id)
        self._keys.add(int(key))
        return True

    def admit(self, event_ids: pd.Series, texts: pd.Series, limit: int | None = None) -> np.ndarray:
        """Boolean keep mask in order; stops admitting after `limit` kept rows."""
        fresh, ids, keys, sigs = self.prepare(event_ids, texts)
        keep = np.zeros(len(ids), dtype=bool)
        taken = 0
        for i in np.flatnonzero(fresh):
            if limit is not None and taken >= limit:
                break
            if self.try_add(ids[i], keys[i], sigs[i]):
                keep[i] = True
                taken += 1
        return keep


def dedupe(df: pd.DataFrame, threshold: float = 0.85, chunk_size: int = 50_000) -> pd.DataFrame:
    """Drop repeats of event_id, of normalized prompt+response, and near-duplicates (keep first)."""
    for col in ("event_id", "prompt", "response"):
        if col not in df.columns:
            raise ValueError(f"dedupe: column {col!r} is missing")
    deduper = Deduper(threshold)
    masks = []
    for start in range(0, len(df), chunk_size):
        part = df.iloc[start : start + chunk_size]
        masks.append(deduper.admit(part["event_id"], pair_text(part)))
    keep = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
    return df[keep]


def pair_text(df: pd.DataFrame) -> pd.Series:
    return df["prompt"].fillna("").astype(str) + "\n" + df["response"].fillna("").astype(str)


def embed_texts(texts: Iterable[str], dim: int = 256, seed: int = 0) -> np.ndarray:
    """Deterministic L2-normalized embedding: the shared hashing embedder when present, else a
    signed hashed bag of words computed here."""
    values = list(texts)
    try:
        from feedback_assets.domain.drift.embedding import hashing_embed
    except ImportError:
        return _hashed_bow(values, dim, seed)
    return np.asarray(hashing_embed(values, dim=dim, seed=seed), dtype=np.float64)


def _hashed_bow(values: list[str], dim: int, seed: int) -> np.ndarray:
    tok = (
        pl.DataFrame({"t": pl.Series(values, dtype=pl.String)})
        .with_row_index("r")
        .with_columns(pl.col("t").str.to_lowercase().str.extract_all(r"\w+"))
        .explode("t")
        .drop_nulls("t")
    )
    rows = tok["r"].to_numpy().astype(np.int64)
    h = tok["t"].hash(seed=seed).to_numpy()
    col = (h % np.uint64(dim)).astype(np.int64)
    sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
    mat = np.bincount(rows * dim + col, weights=sign, minlength=len(values) * dim)
    mat = mat.reshape(len(values), dim)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.divide(mat, norms, out=np.zeros_like(mat), where=norms > 0)


def near_duplicate_groups(texts: pd.Series, threshold: float = 0.85, seed: int = 0) -> np.ndarray:
    """Group id per row: equal normalized text, or estimated Jaccard >= threshold with the first
    member of an earlier group."""
    norm = normalize_text(texts)
    codes, uniques = pd.factorize(norm)
    if len(uniques) == 0:
        return np.zeros(0, dtype=np.int64)
    sigs = minhash_signatures(pd.Series(uniques), seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=sigs.shape[1])
    group = np.arange(len(uniques))
    for i, sig in enumerate(sigs):
        mh = LeanMinHash(seed=seed, hashvalues=sig, scheme="legacy")
        match = [c for c in lsh.query(mh) if float(np.mean(sigs[c] == sig)) >= threshold]
        if match:
            group[i] = group[min(match)]
        else:
            lsh.insert(i, mh, check_duplication=False)
    return group[codes]
