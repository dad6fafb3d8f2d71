"""Small generated example tables, so that a fresh install has something to cluster
without downloading anything."""
from __future__ import annotations

import numpy as np

from .errors import ConfigError

KINDS = ("blobs", "moons", "rings", "anisotropic", "mixed")


def make_example(kind: str = "mixed", n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A labelled 2-D example of ``kind`` (``mixed``: blobs of different density next to moons)."""
    from sklearn.datasets import make_blobs, make_circles, make_moons

    if kind not in KINDS:
        raise ConfigError(f"unknown example kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if n < 10:
        raise ConfigError("an example needs at least 10 rows")
    if kind == "blobs":
        return make_blobs(n, 2, centers=4, cluster_std=0.8, random_state=seed)
    if kind == "moons":
        return make_moons(n, noise=0.06, random_state=seed)
    if kind == "rings":
        return make_circles(n, noise=0.04, factor=0.45, random_state=seed)
    if kind == "anisotropic":
        X, y = make_blobs(n, 2, centers=3, random_state=seed)
        return X @ np.array([[0.6, -0.64], [-0.41, 0.85]]), y
    half = n // 2
    Xm, ym = make_moons(half, noise=0.05, random_state=seed)
    Xb, yb = make_blobs(n - half, 2, centers=[[4, 3], [4, -2]], cluster_std=[0.3, 0.9], random_state=seed)
    return np.vstack([Xm * 1.5, Xb]), np.concatenate([ym, yb + 2])
