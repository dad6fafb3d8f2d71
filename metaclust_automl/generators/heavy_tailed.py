"""Heavy-tailed mixtures: Student-t and Laplace clusters.

Real measurements rarely have Gaussian tails. A cluster whose points trail far from its
centre pulls k-means centroids and Gaussian mixtures off course, makes single linkage chain
across clusters, and looks like background noise to density methods: the Gaussian blob
families never show a selector that case. The width is set as in ``clusters.blobs`` (``sep``
is relative to the nearest centre), so the same ``sep`` means the same core overlap, and the
tails add the overlap a Gaussian would not have.
"""
from __future__ import annotations

import numpy as np

from .layout import _centers, _labels, _nearest_center_distance, _rotation, _sizes

DISTS = ("t", "laplace")


def _draw(rng: np.random.Generator, dist: str, df: float, m: int, d: int) -> np.ndarray:
    """``m`` points of a unit-scale elliptical Student-t (``df`` degrees of freedom) or of
    independent Laplace coordinates (variance 1 per coordinate)."""
    if dist == "laplace":
        return rng.laplace(0.0, 1.0 / np.sqrt(2.0), (m, d))
    z = rng.standard_normal((m, d))
    return z / np.sqrt(rng.chisquare(df, (m, 1)) / df)


def heavy(rng: np.random.Generator, *, n: int, d: int, k: int, sep: float, dist: str, df: float,
          aniso: float, imb: float) -> tuple[np.ndarray, np.ndarray]:
    """Clusters drawn from a Student-t (``dist="t"``, ``df`` degrees of freedom: 1 = Cauchy,
    30 = nearly Gaussian) or a Laplace distribution, centres placed as for ``blobs`` and
    their scale set by ``sep`` the same way; ``aniso`` stretches each along random axes,
    ``imb`` is the ratio of the largest to the smallest cluster size."""
    centers = _centers(rng, k, d, "random")
    sigma = _nearest_center_distance(centers) / (2.0 * sep)
    sizes = _sizes(n, k, rng, imb)
    parts = []
    for i in range(k):
        z = _draw(rng, dist, df, int(sizes[i]), d)
        if aniso > 1.0 and d > 1:
            axes = aniso ** rng.uniform(-0.5, 0.5, d)
            axes[0], axes[1] = aniso ** 0.5, aniso ** -0.5
            z = (z * axes) @ _rotation(rng, d).T
        parts.append(centers[i] + sigma[i] * z)
    return np.vstack(parts), _labels(sizes)
