"""k-prototypes (the ``kmodes`` package): k-means for tables with categorical columns.

Each cluster has a prototype: means for the numeric columns, modes for the categorical
ones; a row's cost is its squared distance on the numbers plus ``gamma`` times the number
of categories it does not share. It reads the category codes back from the encoded mixed
matrix (``encoding.Layout``); on a numeric table it is k-means, on a categorical-only one
k-modes.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..params import Param
from .base import Backend
from .partitional import N_CLUSTERS


def _split(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    from ..encoding import layout_of

    lay = layout_of(X)
    if lay is None:
        return np.asarray(X), np.empty((X.shape[0], 0), dtype=np.int64), None
    return np.asarray(X[:, :lay.n_numeric]), lay.codes(X), lay


def default_gamma(num: np.ndarray, gamma: float | None) -> float:
    """``gamma``, or twice the mean variance of the numeric columns: a mismatch then weighs
    what one numeric column adds to a squared distance on average (as the one-hot encoding
    weighs it for the other backends)."""
    if gamma is not None:
        return float(gamma)
    return 2.0 * float(np.mean(num.var(axis=0))) if num.shape[1] else 1.0


class KPrototypesBackend(Backend):
    name = "kprototypes"
    description = "k-prototypes for mixed tables (kmodes): means for numbers, modes for categories"
    cost = "linear"
    max_fit_rows = 50_000
    assign_method = "centroid"
    params = (
        N_CLUSTERS,
        Param("gamma", "float", default=None, low=1e-3, high=100.0, search_low=0.1, search_high=10.0, log=True,
              help="weight of a category mismatch against squared numeric distance (default: twice "
                   "the mean numeric variance, what a column adds to a squared distance on average)"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        from sklearn.cluster import KMeans

        num, codes, _ = _split(X)
        k = int(min(params["n_clusters"], X.shape[0]))
        if codes.shape[1] == 0:
            return KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(num)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if num.shape[1] == 0:
                from kmodes.kmodes import KModes

                return KModes(n_clusters=k, init="Huang", n_init=3, random_state=seed).fit_predict(codes)
            from kmodes.kprototypes import KPrototypes

            data = np.hstack([num, codes.astype(np.float64)])
            cat = list(range(num.shape[1], data.shape[1]))
            model = KPrototypes(n_clusters=k, gamma=default_gamma(num, params.get("gamma")), init="Cao", n_init=3,
                                random_state=seed, n_jobs=1)
            return model.fit_predict(data, categorical=cat)


def prototypes(Xp: np.ndarray, labels: np.ndarray, resolved: dict[str, Any]) -> dict[str, np.ndarray]:
    """The prototypes of a fitted clustering (numeric means, category modes) and gamma."""
    num, codes, _ = _split(Xp)
    ids = np.unique(labels[labels >= 0])
    means = np.stack([num[labels == i].mean(axis=0) for i in ids]) if ids.size else np.empty((0, num.shape[1]))
    modes = np.stack([[np.bincount(codes[labels == i, j][codes[labels == i, j] >= 0]).argmax()
                       for j in range(codes.shape[1])] for i in ids]) if ids.size else np.empty((0, 0))
    gamma = default_gamma(num, resolved.get("gamma"))
    return {"proto_ids": ids, "proto_means": means, "proto_modes": np.asarray(modes, dtype=np.int64),
            "proto_gamma": np.float64(gamma)}


def predict_prototypes(Xp: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
    """The nearest prototype of each row under the k-prototypes cost."""
    num, codes, _ = _split(Xp)
    means, modes, ids = state["proto_means"], state["proto_modes"], state["proto_ids"]
    cost = ((num[:, None, :] - means[None, :, :]) ** 2).sum(axis=2) if num.shape[1] else 0.0
    if codes.shape[1]:
        cost = cost + float(state["proto_gamma"]) * (codes[:, None, :] != modes[None, :, :]).sum(axis=2)
    return ids[np.argmin(cost, axis=1)]
