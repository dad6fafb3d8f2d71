"""Turning scale-free parameters into concrete values for the table at hand.

A configuration learned on one table must mean the same on another: eps is stored as a
quantile of k-nearest-neighbour distances, minimum sizes as fractions of n. These
helpers do the conversion at a bounded cost.
"""
from __future__ import annotations

import numpy as np

QUERY_SAMPLE = 2000


def knn_distances(X: np.ndarray, k: int, seed: int = 0, sample: int = QUERY_SAMPLE) -> np.ndarray:
    """Distance of up to ``sample`` rows to their k-th nearest other row of X."""
    n = X.shape[0]
    k = int(max(1, min(k, n - 1)))
    rng = np.random.default_rng(seed)
    query = X if n <= sample else X[rng.choice(n, sample, replace=False)]
    from sklearn.neighbors import NearestNeighbors  # lazy: heavy import
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, _ = nn.kneighbors(query)
    return dist[:, k]


def knn_distance_quantile(X: np.ndarray, k: int, q: float, seed: int = 0) -> float:
    """The q-quantile of k-th-nearest-neighbour distances; strictly positive."""
    d = knn_distances(X, k, seed)
    value = float(np.quantile(d, q))
    if value <= 0.0:  # duplicates: fall back to the smallest positive distance
        positive = d[d > 0]
        value = float(positive.min()) if positive.size else 1e-6
    return value


def size_from_fraction(frac: float, n: int, minimum: int = 2) -> int:
    """A minimum cluster size of ``frac`` of n rows, at least ``minimum`` and at most n."""
    return int(min(max(minimum, round(frac * n)), max(n, minimum)))
