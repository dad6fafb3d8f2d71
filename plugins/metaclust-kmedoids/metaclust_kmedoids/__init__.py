"""k-medoids for metaclust: a real backend shipped as a separate package.

Medoids are actual rows, so the method is robust to outliers and works with any
distance; here Euclidean. The alternating (Voronoi iteration) algorithm runs on a
bounded sample, so the backend declares a sample limit and the base class assigns
the remaining rows to their nearest sampled row.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from metaclust_automl.backends import Backend
from metaclust_automl.hookspecs import hookimpl
from metaclust_automl.params import Param


def _sq_dists(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    return np.maximum((X**2).sum(1)[:, None] - 2 * X @ C.T + (C**2).sum(1)[None, :], 0.0)


class KMedoidsBackend(Backend):
    name = "kmedoids"
    description = "k-medoids (alternating), from the metaclust-kmedoids example plugin"
    cost = "quadratic"
    max_fit_rows = 5000
    params = (
        Param("n_clusters", "int", default=8, low=1, high=100_000, search_low=2, search_high=30,
              help="number of medoids"),
        Param("max_iter", "int", default=50, low=1, high=10_000, search=False,
              help="alternating iterations at most"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n, k = X.shape[0], min(params["n_clusters"], X.shape[0])
        # k-means++ seeding on rows
        medoids = [int(rng.integers(n))]
        d2 = _sq_dists(X, X[medoids])[:, 0]
        for _ in range(1, k):
            total = d2.sum()
            nxt = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
            medoids.append(nxt)
            d2 = np.minimum(d2, _sq_dists(X, X[[nxt]])[:, 0])
        medoids_arr = np.array(medoids)
        labels = np.argmin(_sq_dists(X, X[medoids_arr]), axis=1)
        for _ in range(params["max_iter"]):
            new = medoids_arr.copy()
            for j in range(k):
                members = np.flatnonzero(labels == j)
                if members.size == 0:
                    continue
                within = _sq_dists(X[members], X[members]).sum(axis=1)
                new[j] = members[int(np.argmin(within))]
            if np.array_equal(new, medoids_arr):
                break
            medoids_arr = new
            labels = np.argmin(_sq_dists(X, X[medoids_arr]), axis=1)
        return labels


@hookimpl
def register_backends(register):  # noqa: ANN001, ANN201 - pluggy passes the registry's callable
    register(KMedoidsBackend())
