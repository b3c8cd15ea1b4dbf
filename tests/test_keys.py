"""Sort-based key helpers agree with numpy's set routines."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from solvers.keys import contains, unique_keys

keys = st.lists(st.integers(min_value=0, max_value=50), max_size=60).map(
    lambda v: np.array(v, dtype=np.int64)
)


@given(keys)
def test_unique_keys_is_np_unique(values):
    assert np.array_equal(unique_keys(values), np.unique(values))


@given(keys, keys)
def test_contains_is_isin(universe, probe):
    assert np.array_equal(contains(np.sort(universe), probe), np.isin(probe, universe))
