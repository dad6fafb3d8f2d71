"""Feature transforms that are part of a clustering configuration.

The right transform depends on the data (k-means on sklearn's digits reaches ACC 0.79
on raw pixels and 0.61 after standard scaling), so it is a searched parameter that the
meta-learners learn to choose, not a fixed step.
"""
from __future__ import annotations

import numpy as np

from .errors import ConfigError

METHODS = ("none", "standard", "robust", "minmax", "pca_whiten")


def _safe_scale(scale: np.ndarray) -> np.ndarray:
    scale = np.asarray(scale, dtype=np.float64).copy()
    scale[~np.isfinite(scale) | (scale <= 1e-12)] = 1.0
    return scale


def apply(X: np.ndarray, method: str, seed: int = 0, sample: int = 100_000) -> np.ndarray:
    """Transform ``X`` with ``method``; statistics come from at most ``sample`` rows, so
    the cost stays linear on big tables. Constant columns stay finite."""
    if method == "none":
        return X
    rng = np.random.default_rng(seed)
    S = X if X.shape[0] <= sample else X[rng.choice(X.shape[0], sample, replace=False)]
    if method == "standard":
        return (X - S.mean(axis=0)) / _safe_scale(S.std(axis=0))
    if method == "robust":
        q25, med, q75 = np.percentile(S, [25, 50, 75], axis=0)
        iqr = q75 - q25
        # Columns with a zero IQR (mostly one value) fall back to the standard deviation.
        iqr = np.where(iqr > 1e-12, iqr, S.std(axis=0))
        return (X - med) / _safe_scale(iqr)
    if method == "minmax":
        lo, hi = S.min(axis=0), S.max(axis=0)
        return (X - lo) / _safe_scale(hi - lo)
    if method == "pca_whiten":
        mean = S.mean(axis=0)
        C = S - mean
        _, s, vt = np.linalg.svd(C, full_matrices=False)
        var = s**2 / max(S.shape[0] - 1, 1)
        keep = var > var.max() * 1e-9 if var.size and var.max() > 0 else np.ones_like(var, bool)
        keep[0] = True
        return ((X - mean) @ vt[keep].T) / np.sqrt(np.maximum(var[keep], 1e-12))
    raise ConfigError(f"unknown preprocessing {method!r}; choose one of: {', '.join(METHODS)}")
