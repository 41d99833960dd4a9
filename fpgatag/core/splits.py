"""Deterministic train/validation/test splits keyed by jet uid.

A jet's split depends only on its uid and the salt, never on file order or size, so the teacher and
every student agree on the test split even when they read different subsets or shards of a dataset.
"""

from __future__ import annotations

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def assign_splits(uids: np.ndarray, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS, salt: int = 0) -> np.ndarray:
    """Split index per jet: 0 = train, 1 = val, 2 = test."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(f < 0) or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    u = _splitmix64(np.asarray(uids, dtype=np.int64).view(np.uint64) ^ np.uint64(salt))
    r = (u >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    edges = np.cumsum(f)[:2]
    return np.searchsorted(edges, r, side="right").astype(np.int8)


def split_indices(uids: np.ndarray, fractions=DEFAULT_FRACTIONS, salt: int = 0) -> dict[str, np.ndarray]:
    """Row indices of each split, in file order."""
    s = assign_splits(uids, fractions, salt)
    return {name: np.flatnonzero(s == i) for i, name in enumerate(SPLIT_NAMES)}


def select_jets(n_jets: int, max_jets: int | None, seed: int) -> np.ndarray:
    """All rows, or a sorted random subset of ``max_jets`` rows (``--max-jets``)."""
    from fpgatag.core.errors import FpgatagError

    if max_jets is None or max_jets >= n_jets:
        return np.arange(n_jets)
    if max_jets < 1:
        raise FpgatagError(f"max_jets must be positive, got {max_jets}")
    return np.sort(np.random.default_rng(seed).choice(n_jets, size=int(max_jets), replace=False))


# Folds for out-of-fold soft targets: a second hash of the uid, independent of the split's, so every
# split (train, val, test) is spread evenly over the folds.
FOLD_SALT = 0x5F0D5


def assign_folds(uids: np.ndarray, n_folds: int, salt: int = 0) -> np.ndarray:
    """Fold index (0..n_folds-1) of each jet; depends only on the uid, ``n_folds`` and ``salt``."""
    if int(n_folds) < 1:
        raise ValueError(f"the number of folds must be positive, got {n_folds}")
    u = _splitmix64(np.asarray(uids, dtype=np.int64).view(np.uint64) ^ np.uint64(salt ^ FOLD_SALT))
    u = _splitmix64(u)
    return ((u >> np.uint64(11)) % np.uint64(n_folds)).astype(np.int64)
