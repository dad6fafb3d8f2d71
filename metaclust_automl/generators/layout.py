"""What the cluster generators share: cluster sizes, centre layouts, random rotations.

Moved out of ``clusters`` unchanged (the pinned digests in ``tests/test_generators_pinned.py``
hold it to that), so that the generators in their own modules (``heavy_tailed``,
``hypercube``, ``scenes3d``) use them without importing ``clusters``, which registers them.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

MIN_CLUSTER = 10  # smallest reference cluster a generator produces


def _sizes(n: int, k: int, rng: np.random.Generator, imb: float = 1.0) -> np.ndarray:
    """Cluster sizes summing to ``n``; the largest is ``imb`` times the smallest (ratio, not random)."""
    if n < k * MIN_CLUSTER:
        raise ConfigError(f"{n} points cannot hold {k} clusters of at least {MIN_CLUSTER}; "
                          f"raise n or lower k")
    w = imb ** -np.linspace(0.0, 1.0, k) if k > 1 else np.ones(1)
    w = rng.permutation(w)
    raw = n * w / w.sum()
    sizes = np.maximum(MIN_CLUSTER, np.floor(raw).astype(np.int64))
    while sizes.sum() < n:  # largest remainders first
        sizes[int(np.argmax(raw - sizes))] += 1
    while sizes.sum() > n:
        sizes[int(np.argmax(sizes))] -= 1
    return sizes


def _rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A uniformly random orthogonal d x d matrix."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _unit_vectors(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    v = rng.standard_normal((m, d))
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _labels(sizes: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)


def _centers(rng: np.random.Generator, k: int, d: int, layout: str) -> np.ndarray:
    """Cluster centres about one unit apart: random (Poisson-disc), jittered grid, or rings."""
    if layout != "random" and d < 2:
        raise ConfigError(f"layout {layout!r} needs d >= 2")
    if layout == "grid":
        side = math.ceil(math.sqrt(k))
        cells = rng.choice(side * side, size=k, replace=False)
        c = np.zeros((k, d))
        c[:, 0] = cells % side + rng.uniform(-0.15, 0.15, k)
        c[:, 1] = cells // side + rng.uniform(-0.15, 0.15, k)
        if d > 2:
            c[:, 2:] = rng.uniform(-0.2, 0.2, (k, d - 2))
        return c
    if layout == "ring":
        pts = [np.zeros(d)] if k >= 8 else []
        ring = 1
        while len(pts) < k:
            cap = min(k - len(pts), int(2 * math.pi * ring))
            phase = rng.uniform(0, 2 * math.pi)
            for j in range(cap):
                p = np.zeros(d)
                a = phase + 2 * math.pi * j / cap
                p[0], p[1] = ring * math.cos(a), ring * math.sin(a)
                pts.append(p)
            ring += 1
        c = np.array(pts)
        if d > 2:
            c[:, 2:] = rng.uniform(-0.2, 0.2, (k, d - 2))
        return c
    side = 2.0 * k ** (1.0 / d)
    min_dist = 1.0
    pts: list[np.ndarray] = []
    tries = 0
    while len(pts) < k:
        cand = rng.uniform(0.0, side, d)
        if not pts or np.min(np.linalg.norm(np.asarray(pts) - cand, axis=1)) >= min_dist:
            pts.append(cand)
            tries = 0
        else:
            tries += 1
            if tries >= 200:
                min_dist *= 0.8
                tries = 0
    return np.asarray(pts)


def _nearest_center_distance(c: np.ndarray) -> np.ndarray:
    if c.shape[0] == 1:
        return np.ones(1)
    dist = np.linalg.norm(c[:, None, :] - c[None, :, :], axis=2)
    np.fill_diagonal(dist, np.inf)
    return dist.min(axis=1)
