"""Sorted distinct pair keys (``a * K + r``), the currency of candidate sets.

``np.unique`` on integers runs a hash pass before sorting in numpy ≥ 2.3, which is more than
ten times slower than a plain sort at a million keys; candidate sets are merged many times per
solve, so the sort-based version here is used instead.
"""

from __future__ import annotations

import numpy as np


def unique_keys(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted (same result as ``np.unique``)."""
    ordered = np.sort(keys, kind="stable")
    if len(ordered) == 0:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (binary search; ``np.isin`` hashes)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def segment_ranks(count: np.ndarray) -> np.ndarray:
    """0, 1, …, c - 1 for each c in ``count``, concatenated: each item's place in its segment
    when items are laid out segment by segment (pair expansions)."""
    return np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
