"""is_in gives pandas' isin answer for string keys, missing values included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.frames import is_in


@pytest.mark.parametrize("dtype", ["str", object])
def test_is_in_equals_pandas_isin(dtype: object) -> None:
    rng = np.random.default_rng(3)
    keys = [f"k{i}" for i in rng.integers(0, 50, size=300)] + [None]
    values = pd.Series(keys, dtype=dtype)
    pools = [
        pd.Index([f"k{i}" for i in range(0, 50, 3)], dtype="str"),
        pd.Series([None, "k1", "k7"], dtype=object),
        np.array(["k2", "k4"], dtype=object),
        pd.Series([], dtype=object),
    ]
    for pool in pools:
        want = values.isin(pool).to_numpy()
        got = is_in(values, pool)
        assert got.dtype == bool and np.array_equal(got, want), pool
    assert is_in(values, pools[0]).any() and not is_in(values, pools[0]).all()
    assert is_in(pd.Series([], dtype="str"), pools[0]).shape == (0,)
