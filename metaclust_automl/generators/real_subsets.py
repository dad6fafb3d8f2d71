"""Task augmentation of the labelled data that scikit-learn ships (no downloads).

A handful of real datasets becomes many tasks: a subset of the classes (10 digits give
210 different 6-class tasks, each with its own geometry), a stratified subsample of the
rows, a random subset of the columns, and raw or standardised columns (the raw columns of
wine and breast cancer differ in scale by orders of magnitude, which is exactly what a
recommender must notice). All randomness comes from the generator the caller passes,
derived from the task id.

Id contract: like the synthetic families, an id names every choice made here, and the
defaults below must never change meaning.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import ConfigError

# family-visible dataset name -> scikit-learn loader
REAL_DATASETS: dict[str, str] = {
    "digits": "load_digits",
    "wine": "load_wine",
    "iris": "load_iris",
    "breast-cancer": "load_breast_cancer",
}
SCALINGS = ("raw", "std", "minmax")
# (number of columns, rows per class): lets the corpus definition be checked without
# importing scikit-learn (seconds) or reading the data; a test checks them against the data
REAL_SHAPES: dict[str, tuple[int, tuple[int, ...]]] = {
    "digits": (64, (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)),
    "wine": (13, (59, 71, 48)),
    "iris": (4, (50, 50, 50)),
    "breast-cancer": (30, (212, 357)),
}


@lru_cache(maxsize=None)
def load_real(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The full dataset ``name`` as read-only (X float64, y int64) arrays, loaded once."""
    if name not in REAL_DATASETS:
        raise ConfigError(f"unknown real dataset {name!r}; known: {', '.join(sorted(REAL_DATASETS))}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, REAL_DATASETS[name])()
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def resolve_real_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validated parameters (classes sorted; sub, feat 0 = all; scale one of SCALINGS)."""
    unknown = sorted(set(params) - {"classes", "sub", "feat", "scale"})
    if unknown:
        raise ConfigError(f"real dataset {name!r} has no parameter {unknown[0]!r}; "
                          "known: classes, sub, feat, scale")
    if name not in REAL_DATASETS:
        raise ConfigError(f"unknown real dataset {name!r}; known: {', '.join(sorted(REAL_DATASETS))}")
    n_cols, per_class = REAL_SHAPES[name]
    present = list(range(len(per_class)))
    classes = params.get("classes", "all")
    if classes == "all":
        classes = present
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                          for c in classes):
        raise ConfigError(f"{name}: classes must be a list of class numbers or 'all', got {classes!r}")
    classes = sorted(set(classes))
    missing = [c for c in classes if c not in present]
    if missing or len(classes) < 2:
        raise ConfigError(f"{name}: classes must be at least two of {present}, got {classes}")
    sub, feat = params.get("sub", 0), params.get("feat", 0)
    for key, val, top in (("sub", sub, sum(per_class[c] for c in classes)), ("feat", feat, n_cols)):
        if not isinstance(val, int) or isinstance(val, bool) or val < 0 or val > top:
            raise ConfigError(f"{name}: {key} must be a whole number in 0..{top} (0 = all), got {val!r}")
    scale = params.get("scale", "raw")
    if scale not in SCALINGS:
        raise ConfigError(f"{name}: scale must be one of {', '.join(SCALINGS)}, got {scale!r}")
    return {"classes": classes, "sub": sub, "feat": feat, "scale": scale}


def id_part(params: dict[str, Any], seed: int) -> str:
    """``classes-0-3-5/sub600-feat10-s2/std``-style path (the seed only where it is used)."""
    parts = ["classes-" + "-".join(str(c) for c in params["classes"])]
    aug = [f"{key}{params[key]}" for key in ("sub", "feat") if params[key]]
    if aug:
        parts.append("-".join(aug) + f"-s{seed}")
    parts.append(params["scale"])
    return "/".join(parts)


def stratified_subsample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of ``n`` rows keeping each class's share (largest remainders), sorted."""
    classes, counts = np.unique(y, return_counts=True)
    raw = n * counts / counts.sum()
    take = np.minimum(counts, np.floor(raw).astype(np.int64))
    while take.sum() < n:
        room = np.where(take < counts, raw - take, -np.inf)
        take[int(np.argmax(room))] += 1
    rows = [rng.choice(np.flatnonzero(y == c), size=int(t), replace=False) for c, t in zip(classes, take)]
    return np.sort(np.concatenate(rows))


def scale_columns(X: np.ndarray, how: str) -> np.ndarray:
    """``raw`` as is, ``std`` zero mean and unit variance, ``minmax`` onto [0, 1]."""
    if how == "std":
        return (X - X.mean(axis=0)) / X.std(axis=0)
    if how == "minmax":
        lo = X.min(axis=0)
        return (X - lo) / (X.max(axis=0) - lo)
    return X.copy()


def real_task(name: str, params: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One augmented task from dataset ``name``: rows shuffled, labels 0..k-1, no constant column."""
    p = resolve_real_params(name, params)
    X, y = load_real(name)
    keep = np.flatnonzero(np.isin(y, p["classes"]))
    if p["sub"]:
        keep = keep[stratified_subsample(y[keep], p["sub"], rng)]
    cols = np.arange(X.shape[1])
    if p["feat"]:
        cols = np.sort(rng.choice(X.shape[1], size=p["feat"], replace=False))
    Xs = X[np.ix_(keep, cols)]
    varying = Xs.max(axis=0) > Xs.min(axis=0)  # a class subset can leave a pixel constant
    Xs = scale_columns(Xs[:, varying], p["scale"])
    ys = np.searchsorted(np.asarray(p["classes"]), y[keep]).astype(np.int64)
    order = rng.permutation(keep.size)
    return np.ascontiguousarray(Xs[order], dtype=np.float64), np.ascontiguousarray(ys[order])
