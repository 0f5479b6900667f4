"""Client-generated event and signal ids: random version-4 UUIDs as text."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_SLOTS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_POOL_SIZE = 4096
_pool: list[str] = []


def new_event_ids(count: int) -> pa.Array:
    """`count` random version-4 UUIDs (from os.urandom, as uuid.uuid4), built in numpy."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
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
    """One id from a pool made in bulk (one urandom call per 4096 ids, not one each).

    list.pop is atomic under the GIL, so threads never share an id; an empty pool is refilled.
    """
    try:
        return _pool.pop()
    except IndexError:
        _pool.extend(new_event_ids(_POOL_SIZE).to_pylist())
        return _pool.pop()
