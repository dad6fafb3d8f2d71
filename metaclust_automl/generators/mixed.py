"""Mixed-type synthetic tables: numeric columns that overlap, categorical columns that
carry the clusters some of the time.

A customer table rarely separates its segments in the numbers alone; a plan or a device
column often says more. These families teach the selector (and test the encoders) on such
tables: ``purity`` is the share of rows whose category names their cluster (the rest draw a
level at random), ``sep`` the distance of the numeric centres in units of their spread.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError

#: colour names used for the levels of the first categorical column (others: "c1_a", ...)
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "grey", "black", "white", "pink")


def mixed_frame(rng: np.random.Generator, *, n: int = 1000, k: int = 3, d: int = 2, sep: float = 1.0,
                cats: int = 1, purity: float = 0.9, levels: int = 0, noise_cats: int = 0
                ) -> tuple[pd.DataFrame, np.ndarray]:
    """A table of ``d`` numeric columns (Gaussian blobs whose centres lie ``sep`` spreads
    apart), ``cats`` categorical columns that name the cluster with probability ``purity``
    (``levels`` levels, default k) and ``noise_cats`` categorical columns unrelated to it.
    Returns the frame and the reference labels."""
    if n < 2 * k or k < 2 or d < 0 or cats < 0 or not 0.0 <= purity <= 1.0:
        raise ConfigError("mixed_frame: need n >= 2k, k >= 2, d >= 0, cats >= 0, 0 <= purity <= 1")
    levels = levels or k
    y = rng.permutation(np.arange(n) % k)
    columns: dict[str, object] = {}
    if d:
        centres = _even_centres(rng, k, d)
        X = centres[y] * sep + rng.normal(0.0, 1.0, (n, d))
        for j in range(d):
            columns[f"x{j + 1}"] = np.round(X[:, j], 4)
    for c in range(cats + noise_cats):
        names = COLOURS[:levels] if c == 0 and levels <= len(COLOURS) else [f"c{c + 1}_{i}" for i in range(levels)]
        if c < cats:
            code = np.where(rng.random(n) < purity, y % levels, rng.integers(0, levels, n))
        else:
            code = rng.integers(0, levels, n)
        columns["colour" if c == 0 else f"cat{c + 1}"] = np.asarray(names, dtype=object)[code]
    return pd.DataFrame(columns), y.astype(np.int64)


def _even_centres(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    """k centres evenly on a circle in a random plane (on a line when d = 1), the nearest
    two one unit apart, so that ``sep`` alone sets the overlap."""
    angle = 2 * np.pi * np.arange(k) / k
    if d == 1:
        return (np.arange(k, dtype=np.float64) - (k - 1) / 2)[:, None]
    circle = np.column_stack([np.cos(angle), np.sin(angle)]) / (2 * np.sin(np.pi / k))
    basis, _ = np.linalg.qr(rng.normal(size=(d, 2)))
    return circle @ basis.T
