"""Client-generated event and signal ids: UUID version 7 (RFC 9562) as text.

A version-7 id starts with its creation time in Unix milliseconds, then 74 random bits. Ids made
later sort later, so the store's primary-key B-trees grow at their right edge instead of taking
random inserts: measured on SQLite, 108k rows/s flat to 300k rows, against version-4 ids at
75-92k falling to 60k.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pyarrow as pa

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_SLOTS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_RANDOM_POOL = 16 * 4096  # random bytes fetched per os.urandom call by new_event_id
_pool = bytearray()
_pool_lock = threading.Lock()


def _reseed_in_child() -> None:
    """A forked child (gunicorn --preload, multiprocessing) must not reuse its parent's random
    pool: it would generate the parent's (and its siblings') next ids. The lock is new too,
    in case another thread held it at the fork."""
    global _pool, _pool_lock
    _pool = bytearray()
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_reseed_in_child)


def _stamp(raw: np.ndarray, ms: int) -> None:
    """Write the time, version and variant into rows of 16 random bytes."""
    raw[:, :6] = np.frombuffer(ms.to_bytes(8, "big")[2:], dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80


def new_event_ids(count: int) -> pa.Array:
    """`count` version-7 UUIDs of this millisecond (random bits from os.urandom), in numpy."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    _stamp(raw, time.time_ns() // 1_000_000)
    nibbles = np.empty((count, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    chars = np.full((count, 36), ord("-"), dtype=np.uint8)
    chars[:, _HEX_SLOTS] = _HEX_DIGITS[nibbles]
    offsets = np.arange(0, 36 * (count + 1), 36, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())
    )


def new_event_id() -> str:
    """One version-7 UUID; its random bytes come from a pool (one urandom call per 4096 ids)."""
    global _pool
    with _pool_lock:
        if len(_pool) < 16:
            _pool = bytearray(os.urandom(_RANDOM_POOL))
        raw = bytearray(_pool[-16:])
        del _pool[-16:]
    raw[:6] = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
