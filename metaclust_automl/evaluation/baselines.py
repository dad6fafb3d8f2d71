"""Blind baselines: what a user can do today on an unlabelled table, without metaclust.

Every recommendation is judged against these, so they follow the conventions that
reproduce the table of the recommend issue on the dev corpus (see bench/baselines.py):

- the columns are standardised (z-scores) first, as a user would before any
  distance-based method; the raw scales of the benchmark suite differ by orders of
  magnitude and DBSCAN's default ``eps=0.5`` is meaningless without it;
- silhouette, the label-free criterion of the searching baselines, is computed on a
  bounded random sample (2,000 rows) so that its cost stays flat in n;
- noise counts as one more cluster in silhouette (as in ``silhouette_score(X, labels)``),
  and a degenerate clustering (fewer than two labels, or as many labels as rows) scores
  silhouette -1, so that a search never prefers it;
- predicted noise is returned as -1; scoring then counts it as one more cluster.

Each baseline takes a float matrix and returns one integer label per row (noise -1).
:func:`on_sample` bounds the cost of the expensive ones on very big tables.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import preprocess
from ..errors import BackendError, ConfigError
from ..validation import check_matrix

#: rows on which silhouette is computed (cost flat in n)
SILHOUETTE_SAMPLE = 2000
#: the algorithms the Optuna baseline searches over (their registered search spaces)
OPTUNA_ALGORITHMS = ("kmeans", "gmm", "agglomerative", "dbscan", "hdbscan")


def standardise(X: Any) -> np.ndarray:
    """Columns as z-scores (constant columns stay finite)."""
    return preprocess.apply(check_matrix(X), "standard")


def silhouette_on_sample(X: np.ndarray, labels: np.ndarray, *, sample_size: int = SILHOUETTE_SAMPLE,
                         seed: int = 0) -> float:
    """Silhouette of ``labels`` on at most ``sample_size`` random rows, noise (-1) counted as
    one more cluster; -1 for a degenerate clustering (fewer than two labels, or one row per
    label).

    Counting noise as a cluster is what a user gets from ``silhouette_score(X, labels)``,
    and it is what reproduces the reference (leaving noise out lets a search pick DBSCAN
    runs that call most rows noise: on 7 of the fcps datasets of the dev corpus, mean ARI
    0.21 instead of 0.47)."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    idx = np.arange(labels.shape[0])
    if idx.size > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, sample_size, replace=False))
    k = np.unique(labels[idx]).size
    if k < 2 or k >= idx.size:
        return -1.0
    value = float(silhouette_score(X[idx], labels[idx]))
    return value if np.isfinite(value) else -1.0


# -- the baselines ---------------------------------------------------------------------

def kmeans_silhouette(X: Any, seed: int = 0, k_range: Iterable[int] = range(2, 21)) -> np.ndarray:
    """k-means (k-means++, best of 3 initialisations) for every k in ``k_range``; the k with the best
    silhouette on a bounded sample wins. What most tutorials tell a user to do."""
    from sklearn.cluster import KMeans

    Z = standardise(X)
    n = Z.shape[0]
    best_score, best = -np.inf, None
    for k in k_range:
        if not 2 <= k < n:
            continue
        labels = KMeans(n_clusters=int(k), random_state=seed, n_init=3).fit_predict(Z)
        score = silhouette_on_sample(Z, labels, seed=seed)
        if score > best_score:
            best_score, best = score, labels
    if best is None:
        raise ConfigError(f"k_range holds no k between 2 and {n - 1} for a table of {n} rows")
    return best.astype(np.int64)


def hdbscan_default(X: Any, seed: int = 0) -> np.ndarray:  # noqa: ARG001 - deterministic
    """HDBSCAN with the hdbscan package's defaults (min_cluster_size=5)."""
    import hdbscan

    Z = standardise(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(hdbscan.HDBSCAN(core_dist_n_jobs=1).fit_predict(Z), dtype=np.int64)


def dbscan_default(X: Any, seed: int = 0) -> np.ndarray:  # noqa: ARG001 - deterministic
    """DBSCAN with scikit-learn's defaults (eps=0.5, min_samples=5)."""
    from sklearn.cluster import DBSCAN

    Z = standardise(X)
    return np.asarray(DBSCAN().fit_predict(Z), dtype=np.int64)


class _Prefixed:
    """An Optuna trial whose parameter names carry the algorithm's name, so that two
    backends' parameters of one name (``min_samples`` of DBSCAN and of HDBSCAN, with
    different ranges) never clash in one study."""

    def __init__(self, trial: Any, prefix: str) -> None:
        self._trial, self._prefix = trial, prefix

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        return self._trial.suggest_int(self._prefix + name, *args, **kwargs)

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        return self._trial.suggest_float(self._prefix + name, *args, **kwargs)

    def suggest_categorical(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_categorical(self._prefix + name, *args, **kwargs)


def optuna_silhouette(X: Any, trials: int = 50, seed: int = 0,
                      algorithms: Iterable[str] = OPTUNA_ALGORITHMS) -> np.ndarray:
    """Optuna TPE over the registered backends' search spaces (algorithm, scale-free
    parameters and preprocessing), maximising silhouette on a bounded sample of the
    standardised table; failed or degenerate runs score -1. The labels of the best trial."""
    import optuna

    from ..plugins import get_registry

    if int(trials) < 1:
        raise ConfigError(f"trials must be at least 1, got {trials}")
    Z = standardise(X)
    registry = get_registry()
    names = [a for a in algorithms if a in registry.backends]
    if not names:
        raise ConfigError(f"none of the algorithms {', '.join(algorithms)} is installed")
    best: dict[str, Any] = {"score": -np.inf, "labels": None}

    def objective(trial: Any) -> float:
        name = trial.suggest_categorical("algorithm", names)
        backend = registry.backend(name)
        params = backend.search_space(_Prefixed(trial, f"{name}."))
        try:
            labels = backend.run(Z, params, seed=seed).labels
        except (BackendError, ConfigError):
            return -1.0
        score = silhouette_on_sample(Z, labels, seed=seed)
        if score > best["score"]:
            best["score"], best["labels"] = score, labels
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=int(trials))
    if best["labels"] is None:  # every trial failed: one cluster is the honest answer
        return np.zeros(Z.shape[0], dtype=np.int64)
    return np.asarray(best["labels"], dtype=np.int64)


# -- the registry of baselines and bounding their cost ----------------------------------

#: name -> function(X, seed) -> labels; the order is the order of the report's columns
BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "dbscan_default": dbscan_default,
    "hdbscan_default": hdbscan_default,
    "kmeans_silhouette": kmeans_silhouette,
    "optuna_silhouette": optuna_silhouette,
}


def on_sample(fn: Callable[..., np.ndarray], X: Any, max_rows: int | None, seed: int = 0,
              **kwargs: Any) -> tuple[np.ndarray, str]:
    """Run baseline ``fn`` on at most ``max_rows`` random rows; every other row takes the
    label of its nearest sampled row. Returns the labels and a note ('' when not sampled)."""
    from sklearn.neighbors import NearestNeighbors

    X = check_matrix(X)
    n = X.shape[0]
    if max_rows is None or n <= max_rows:
        return fn(X, seed=seed, **kwargs), ""
    idx = np.sort(np.random.default_rng(seed).choice(n, int(max_rows), replace=False))
    sample_labels = fn(X[idx], seed=seed, **kwargs)
    rest = np.setdiff1d(np.arange(n), idx, assume_unique=True)
    Z = standardise(X)  # the nearest row in the same units the baselines cluster in
    nearest = NearestNeighbors(n_neighbors=1).fit(Z[idx]).kneighbors(Z[rest], return_distance=False)[:, 0]
    labels = np.empty(n, dtype=np.int64)
    labels[idx] = sample_labels
    labels[rest] = sample_labels[nearest]
    return labels, f"run on a random sample of {int(max_rows)} of {n} rows; other rows took the nearest sampled row's label"
