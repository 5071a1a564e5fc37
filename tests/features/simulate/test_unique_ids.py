"""unique_ids: numpy's unique (distinct ids, first positions, inverse) by counting."""

import numpy as np
import pytest

from stratify.features.simulate.store import unique_ids


@pytest.mark.parametrize("n", [0, 1, 7, 500])
def test_same_as_numpy_unique(n):
    rng = np.random.default_rng(n)
    ids = rng.integers(0, 40, n).astype(np.int32)
    expected = np.unique(ids, return_index=True, return_inverse=True)
    for got, want in zip(unique_ids(ids, 40), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_by_hand():
    distinct, first, inverse = unique_ids(np.array([5, 2, 5, 0, 2]), 6)
    assert distinct.tolist() == [0, 2, 5]
    assert first.tolist() == [3, 1, 0]
    assert inverse.tolist() == [2, 1, 2, 0, 1]
