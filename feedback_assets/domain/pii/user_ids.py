"""Keyed user-id hashing: HMAC-SHA256 under a secret, so ids join across tables but never leak."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable

import pandas as pd


def hash_user_id(user_id: str, key: bytes) -> str:
    """HMAC-SHA256 of the user id under a secret key, as 64 hex chars."""
    if not key:
        raise ValueError("hash key must be non-empty (set FEEDBACK_HASH_KEY)")
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_user_ids(values: pd.Series, key: bytes) -> pd.Series:
    """`hash_user_id` over a column; None/NaN stay None. Each distinct id is hashed once."""
    if not key:
        raise ValueError("hash key must be non-empty (set FEEDBACK_HASH_KEY)")
    base = hmac.new(key, digestmod=hashlib.sha256)
    present = values.notna()
    uniques = pd.unique(values[present].astype(str))
    digest: Callable[[str], str] = functools.partial(_digest, base)
    table = dict(zip(uniques, map(digest, uniques), strict=True))
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    out[present] = values[present].astype(str).map(table).to_numpy()
    return out


def _digest(base: hmac.HMAC, user_id: str) -> str:
    h = base.copy()
    h.update(user_id.encode("utf-8"))
    return h.hexdigest()
