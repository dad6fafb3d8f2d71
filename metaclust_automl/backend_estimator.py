"""``BackendClusterer``: one backend configuration as a scikit-learn estimator (what
``Recommendation.to_estimator()`` returns), and the input checks both estimators share.

Apart from :mod:`.estimator` so that a recommendation can build one without importing the
``MetaClusterer``, which itself imports the recommender.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .errors import DataError


def _min_rows(X: np.ndarray, owner: str) -> None:
    n = X.shape[0]
    if n < 3:
        # worded the way scikit-learn words it, so callers (and check_estimator) recognise it
        raise DataError(f"{owner} needs at least 3 samples; got n_samples = {n}")


def check_X(est: BaseEstimator, X: Any) -> np.ndarray:
    """X as a float array of at least 3 rows, validated the way scikit-learn validates it."""
    from sklearn.utils.validation import validate_data

    try:
        X = validate_data(est, X, dtype=np.float64, ensure_min_samples=1, reset=True)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    _min_rows(X, type(est).__name__)
    return writable(X)


def writable(X: np.ndarray) -> np.ndarray:
    """A writable array: some backends (the hdbscan package) fail on read-only memory maps."""
    return X if X.flags.writeable else np.array(X)


class BackendClusterer(ClusterMixin, BaseEstimator):
    """Runs one backend with fixed parameters (scale-free ones are resolved on the table
    it is fitted on). ``Recommendation.to_estimator()`` returns one."""

    def __init__(self, algorithm: str = "kmeans", params: dict[str, Any] | None = None,
                 random_state: int = 0) -> None:
        self.algorithm = algorithm
        self.params = params
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> BackendClusterer:  # noqa: ARG002
        from .plugins import get_registry

        backend = get_registry().backend(self.algorithm)
        backend.validate(self.params or {})
        X = check_X(self, X)
        run = backend.run(X, dict(self.params or {}), seed=0 if self.random_state is None else int(self.random_state))
        self.labels_ = run.labels
        self.resolved_params_ = run.resolved
        self.n_clusters_ = run.n_clusters
        return self

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(X).labels_
