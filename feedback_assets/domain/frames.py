"""Frame helpers the hot paths share."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_in(values: Any, pool: Any) -> np.ndarray:
    """`values.isin(pool)` for string keys (ids, prompt keys), as a bool array.

    pandas 3's arrow-backed strings build isin's value set one Python scalar at a time: 2 s for
    300k ids. Arrow's is_in hashes both sides in C++. Missing values match missing values, as in
    pandas.
    """
    left = _strings(values)
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    found = pc.is_in(left, value_set=_strings(pool))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _strings(x: Any) -> pa.Array:
    arr = pa.array(x, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())
