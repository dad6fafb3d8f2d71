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


def _global_scale(S: np.ndarray) -> float:
    """The largest absolute value of the sample (1 when zero or not finite)."""
    m = float(np.max(np.abs(S))) if S.size else 1.0
    return m if np.isfinite(m) and m > 0 else 1.0


def apply(X: np.ndarray, method: str, seed: int = 0, sample: int = 100_000) -> np.ndarray:
    """Transform ``X`` with ``method``; statistics come from at most ``sample`` rows, so
    the cost stays linear on big tables. Constant columns stay finite.

    The statistics are computed on the data divided by its largest absolute value, which
    changes none of the results but keeps values near 1e308 (whose squares and spreads
    overflow) and near 1e-310 (whose squares vanish) in range. The transformed copy is
    written in place: one new matrix, never two."""
    if method == "none":
        return X
    return transform(X, method, fit(X, method, seed=seed, sample=sample))


def fit(X: np.ndarray, method: str, seed: int = 0, sample: int = 100_000) -> dict[str, np.ndarray]:
    """The statistics of ``method`` on ``X`` (what :func:`transform` needs), so that a saved
    model can transform new rows exactly as the fitted ones were. On an encoded mixed table
    only the numeric columns are transformed: the one-hot columns keep their weight."""
    if method == "none":
        return {}
    from .encoding import layout_of

    lay = layout_of(X)
    if lay is not None:
        return fit(np.asarray(X[:, :lay.n_numeric]), method, seed, sample) if lay.n_numeric else {}
    return _fit(X, method, seed, sample)


def _fit(X: np.ndarray, method: str, seed: int, sample: int) -> dict[str, np.ndarray]:
    if method not in METHODS:
        raise ConfigError(f"unknown preprocessing {method!r}; choose one of: {', '.join(METHODS)}")
    rng = np.random.default_rng(seed)
    S = X if X.shape[0] <= sample else X[rng.choice(X.shape[0], sample, replace=False)]
    g = _global_scale(S)
    S = S / g
    if method == "pca_whiten":
        mean = S.mean(axis=0)
        C = S - mean
        _, s, vt = np.linalg.svd(C, full_matrices=False)
        var = s**2 / max(S.shape[0] - 1, 1)
        keep = var > var.max() * 1e-9 if var.size and var.max() > 0 else np.ones_like(var, bool)
        keep[0] = True
        W = vt[keep].T / np.sqrt(np.maximum(var[keep], 1e-12))[None, :]
        return {"g": np.float64(g), "mean": np.asarray(mean), "W": W}
    if method == "standard":
        shift, scale = S.mean(axis=0), S.std(axis=0)
    elif method == "robust":
        q25, shift, q75 = np.percentile(S, [25, 50, 75], axis=0)
        iqr = q75 - q25
        # Columns with a zero IQR (mostly one value) fall back to the standard deviation.
        scale = np.where(iqr > 1e-12, iqr, S.std(axis=0))
    else:  # minmax
        shift = S.min(axis=0)
        scale = S.max(axis=0) - shift
    return {"g": np.float64(g), "shift": np.asarray(shift), "scale": _safe_scale(scale)}


def transform(X: np.ndarray, method: str, stats: dict[str, np.ndarray]) -> np.ndarray:
    """``X`` transformed with statistics from :func:`fit` (``X`` itself for ``none``)."""
    if method == "none":
        return X
    from .encoding import layout_of, with_numeric

    lay = layout_of(X)
    if lay is not None:
        num = transform(np.asarray(X[:, :lay.n_numeric]), method, stats) if lay.n_numeric and stats else None
        return with_numeric(X, lay, num)
    return _transform(X, method, stats)


def _transform(X: np.ndarray, method: str, stats: dict[str, np.ndarray]) -> np.ndarray:
    if method not in METHODS:
        raise ConfigError(f"unknown preprocessing {method!r}; choose one of: {', '.join(METHODS)}")
    g = float(stats["g"])
    if method == "pca_whiten":
        mean, W = stats["mean"], stats["W"]
        out = np.empty((X.shape[0], W.shape[1]), dtype=np.float64)
        for start in range(0, X.shape[0], 100_000):  # bounded temporaries
            block = X[start:start + 100_000] / g
            block -= mean
            out[start:start + 100_000] = block @ W
        return out
    out = np.divide(X, g)
    out -= stats["shift"]
    out /= stats["scale"]
    return out
