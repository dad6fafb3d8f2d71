"""Small textbook shapes from scikit-learn's generators (blobs, moons, circles, stretched
blobs, one uniform cloud): the tables of the tiny knowledge bases that tests and examples
build in seconds (``selectors/tinykb.py``). Same kind, size and seed, same table.
"""
from __future__ import annotations

import numpy as np


def make_task(kind: str, n: int, seed: int, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """One generated labelled table: ``blobsK`` (K well separated blobs), ``moons``,
    ``circles``, ``aniso`` (stretched blobs) or ``noise`` (one uniform cloud)."""
    from sklearn.datasets import make_blobs, make_circles, make_moons

    rng = np.random.default_rng(seed)
    if kind.startswith("blobs"):
        k = int(kind[5:] or 3)
        X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=0.5 + 0.3 * rng.random(),
                          center_box=(-8, 8), random_state=seed)
    elif kind == "moons":
        X, y = make_moons(n_samples=n, noise=0.05, random_state=seed)
        X = _pad(X, d, rng)
    elif kind == "circles":
        X, y = make_circles(n_samples=n, noise=0.04, factor=0.45, random_state=seed)
        X = _pad(X, d, rng)
    elif kind == "aniso":
        X, y = make_blobs(n_samples=n, n_features=d, centers=3, random_state=seed)
        X = X @ rng.normal(size=(d, d))
    elif kind == "noise":
        X, y = rng.uniform(-1, 1, size=(n, d)), np.zeros(n, dtype=np.int64)
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def _pad(X: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
    if d <= X.shape[1]:
        return X
    return np.hstack([X, 0.05 * rng.normal(size=(X.shape[0], d - X.shape[1]))])
