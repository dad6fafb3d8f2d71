"""k-nearest-neighbour distances against a bounded reference sample.

kNN distance and LOF need, for every row, its k nearest neighbours. Exact search over all
n rows costs O(n^2 d); here the neighbours come from a reference set of at most
``max_reference`` rows (all rows when n is smaller), so the cost is O(n * m * d): linear
in n. To keep the neighbourhood the same size as on the full table, the caller scales k
by m / n (the k-th neighbour among n rows sits about as far as the (k m / n)-th among a
uniform sample of m of them).

The search is scikit-learn's brute force (its chunked, multithreaded arg-k-min
reduction): on tables of a few dozen to a few hundred columns it beats the tree indices
by far, and its cost does not depend on the data's intrinsic dimension.
"""
from __future__ import annotations

import numpy as np


def kneighbors(X: np.ndarray, R: np.ndarray, k: int, *, self_index: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (into ``R``) of the ``k`` nearest reference rows of each row of ``X``,
    sorted nearest first.

    ``self_index[i] >= 0`` says that row i of X *is* reference row ``self_index[i]``; that
    reference row is then excluded from its own neighbours (leave-one-out), so an in-sample
    row is treated exactly like an out-of-sample one. Exact duplicates of a row are other
    rows and stay neighbours at distance 0.
    """
    from sklearn.neighbors import NearestNeighbors

    m = R.shape[0]
    has_self = self_index is not None and bool((self_index >= 0).any())
    avail = m - 1 if self_index is not None else m
    if k < 1 or k > avail:
        raise ValueError(f"k={k} needs more reference rows than the {m} given")
    kk = k + 1 if has_self else k
    nn = NearestNeighbors(n_neighbors=kk, algorithm="brute").fit(R)
    dist, idx = nn.kneighbors(X)
    if not has_self:
        return dist, idx
    # Drop the row itself where it was found; elsewhere (out of sample, or hidden among
    # exact duplicates beyond the k+1 found) drop the farthest of the k+1.
    own = self_index[:, None]
    is_self = (idx == own) & (own >= 0)
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), kk - 1)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(idx.shape[0]), drop] = False
    return dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)
