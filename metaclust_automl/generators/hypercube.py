"""Hypercube mixtures in the manner of scikit-learn's ``make_classification``.

Each class is several Gaussian sub-clusters sitting on vertices of a hypercube in a few
*informative* dimensions, each sub-cluster sheared by its own random linear map; *redundant*
columns are random linear combinations of the informative ones and *useless* columns are
pure noise. This is how many benchmark and user tables look: a class is not one blob (so the
number of blobs is not the number of classes), columns are correlated, and many carry
nothing. Drawn here rather than by ``make_classification`` so that the same seed gives the
same table whatever scikit-learn version is installed.
"""
from __future__ import annotations

import numpy as np

from .layout import _sizes


def _vertices(rng: np.random.Generator, count: int, dims: int) -> np.ndarray:
    """``count`` distinct vertices of the hypercube {-1, 1}^dims (random points in the cube
    once there are fewer vertices than sub-clusters)."""
    if dims < 31 and count <= 2 ** dims:
        picks = rng.choice(2 ** dims, size=count, replace=False)
        bits = (picks[:, None] >> np.arange(dims)[None, :]) & 1
        return 2.0 * bits - 1.0
    return rng.uniform(-1.0, 1.0, (count, dims))


def hypercube(rng: np.random.Generator, *, n: int, k: int, inf: int, red: int, useless: int, sub: int,
              sep: float, imb: float) -> tuple[np.ndarray, np.ndarray]:
    """``k`` classes of ``sub`` sub-clusters each at hypercube vertices ``2 * sep`` apart in
    ``inf`` informative dimensions (``make_classification``'s ``class_sep``: 1 = overlapping,
    0.5 = heavy), plus ``red`` redundant and ``useless`` noise columns, columns shuffled.
    ``imb``: ratio of the largest to the smallest class size; a class's rows are split evenly
    over its sub-clusters."""
    sizes = _sizes(n, k, rng, imb)
    centers = sep * _vertices(rng, k * sub, inf)
    parts, labels = [], []
    for i in range(k):
        share = np.full(sub, sizes[i] // sub)
        share[: sizes[i] - share.sum()] += 1
        for j in range(sub):
            z = rng.standard_normal((int(share[j]), inf))
            z = z @ rng.uniform(-1.0, 1.0, (inf, inf))
            parts.append(centers[i * sub + j] + z)
            labels.append(np.full(int(share[j]), i, dtype=np.int64))
    X = np.vstack(parts)
    cols = [X]
    if red:
        cols.append(X @ rng.uniform(-1.0, 1.0, (inf, red)))
    if useless:
        cols.append(rng.standard_normal((X.shape[0], useless)))
    X = np.hstack(cols)
    return X[:, rng.permutation(X.shape[1])], np.concatenate(labels)
