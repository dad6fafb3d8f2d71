"""Generated labelled tasks: meta-training of the prototype rule, tests and benchmarks.

Two families, both with known labels and a tunable difficulty:
- ``manifold_mixture``: each cluster is a noisy curved low-dimensional manifold
  (a random two-layer map of a few latent coordinates) embedded in many dimensions;
  the clusters share part of their shape, as handwritten digits share strokes;
- ``gaussian_blobs``: anisotropic Gaussian clusters of unequal sizes.
Everything is drawn from a numpy Generator: one seed, one task.
"""
from __future__ import annotations

import numpy as np

from ..corpus.tasks import LabelledTask


def _sizes(n: int, k: int, rng: np.random.Generator, imbalance: float) -> np.ndarray:
    w = rng.dirichlet(np.full(k, 1.0 / max(imbalance, 1e-3)))
    w = 0.5 * w + 0.5 / k  # no cluster below half its fair share
    sizes = np.floor(w * n).astype(int)
    sizes[: n - sizes.sum()] += 1
    return sizes


def manifold_mixture(n: int, k: int, dim: int, *, intrinsic: int = 2, noise: float = 0.3,
                     separation: float = 1.0, shared: float = 0.5, imbalance: float = 0.2,
                     seed: int = 0, hidden: int = 16, dtype: type = np.float64) -> LabelledTask:
    """k clusters, each ``x = A_c tanh(B_c u + c_c) + mu_c + noise``, u uniform in
    [-1, 1]^intrinsic. ``shared`` in [0, 1] mixes a common A into every A_c (harder);
    ``separation`` scales the distances between the centres mu_c. Generated in chunks
    of rows, so a 70,000 x 784 task needs no more than its own memory."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((hidden, dim))
    A = [np.sqrt(shared) * common + np.sqrt(1.0 - shared) * rng.standard_normal((hidden, dim))
         for _ in range(k)]
    A = [a / np.sqrt(hidden) for a in A]
    B = [rng.standard_normal((intrinsic, hidden)) * rng.uniform(1.0, 3.0) for _ in range(k)]
    c = [rng.standard_normal(hidden) * 0.5 for _ in range(k)]
    mu = rng.standard_normal((k, dim)) * (0.35 * separation)
    sizes = _sizes(n, k, rng, imbalance)
    y = np.repeat(np.arange(k), sizes)
    y = y[rng.permutation(n)]
    X = np.empty((n, dim), dtype=dtype)
    for start in range(0, n, 8192):
        yy = y[start:start + 8192]
        u = rng.uniform(-1.0, 1.0, (yy.size, intrinsic))
        block = noise * rng.standard_normal((yy.size, dim))
        for j in np.unique(yy):
            sel = yy == j
            block[sel] += np.tanh(u[sel] @ B[j] + c[j]) @ A[j] + mu[j]
        X[start:start + yy.size] = block
    return LabelledTask(id=f"manifold/seed{seed}", X=X, y=y, group="manifold")


def gaussian_blobs(n: int, k: int, dim: int, *, separation: float = 3.0, imbalance: float = 0.3,
                   seed: int = 0) -> LabelledTask:
    """k anisotropic Gaussians; centres about ``separation`` within-cluster deviations apart."""
    rng = np.random.default_rng(seed)
    sizes = _sizes(n, k, rng, imbalance)
    centres = rng.standard_normal((k, dim)) * separation / np.sqrt(2.0)
    parts = []
    for j in range(k):
        T = rng.standard_normal((dim, dim)) / np.sqrt(dim) * rng.uniform(0.5, 1.5)
        T += np.eye(dim) * rng.uniform(0.3, 1.0)
        parts.append(rng.standard_normal((sizes[j], dim)) @ T / np.sqrt(2.0) + centres[j])
    X = np.concatenate(parts)
    y = np.repeat(np.arange(k), sizes)
    order = rng.permutation(n)
    return LabelledTask(id=f"blobs/seed{seed}", X=X[order], y=y[order], group="blobs")


def sample_task(rng: np.random.Generator, n_range: tuple[int, int] = (300, 1200)) -> LabelledTask:
    """One random task of either family, for meta-training (sizes, k, dimension,
    noise and separation drawn at random)."""
    n = int(rng.integers(*n_range))
    k = int(rng.integers(2, 13))
    seed = int(rng.integers(2**31))
    if rng.random() < 0.65:
        dim = int(rng.integers(8, 100))
        return manifold_mixture(n, k, dim, intrinsic=int(rng.integers(1, 4)),
                                noise=float(rng.uniform(0.1, 0.6)),
                                separation=float(rng.uniform(0.6, 2.0)),
                                shared=float(rng.uniform(0.0, 0.8)),
                                imbalance=float(rng.uniform(0.05, 1.0)), seed=seed)
    dim = int(rng.integers(2, 40))
    return gaussian_blobs(n, k, dim, separation=float(rng.uniform(1.5, 4.5)),
                          imbalance=float(rng.uniform(0.05, 1.0)), seed=seed)
