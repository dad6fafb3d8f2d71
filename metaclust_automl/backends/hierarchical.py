"""Hierarchical clustering: agglomerative linkage (scikit-learn) and Genie (genieclust).

Both build one merge tree, so a k rule costs one tree on its sample: every candidate k
is a cut of it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..params import Param
from .base import Backend
from .krule import KRuleMixin
from .partitional import RULED_K


class AgglomerativeBackend(KRuleMixin, Backend):
    name = "agglomerative"
    description = "hierarchical agglomerative clustering cut at n_clusters (or at the k of its k rule)"
    cost = "quadratic"
    max_fit_rows = 5000
    # SciPy's linkage holds the condensed distance matrix (4 bytes a pair) and a copy
    pairwise_bytes = 8.0
    params = (
        *RULED_K,
        Param("linkage", "categorical", default="ward",
              choices=("ward", "complete", "average", "single"), help="linkage criterion"),
    )

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        return self.resolve_k(X, params, super().resolve(X, params))

    def partitions(self, Xs: np.ndarray, params: dict[str, Any], ks: Sequence[int]) -> dict[int, np.ndarray]:
        """One SciPy linkage tree, cut at every k."""
        from scipy.cluster.hierarchy import fcluster, linkage

        Z = linkage(Xs, method=params["linkage"])
        return {k: fcluster(Z, k, criterion="maxclust") - 1 for k in ks}

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering  # lazy: scikit-learn costs seconds to import

        from ..encoding import gower_for

        # a mixed table: Gower distances for the linkages that take any metric (not ward)
        gower = gower_for(X) if params["linkage"] != "ward" else None
        if gower is not None:
            return AgglomerativeClustering(n_clusters=self.n_clusters_for(X, params), linkage=params["linkage"],
                                           metric="precomputed").fit_predict(gower)
        return AgglomerativeClustering(n_clusters=self.n_clusters_for(X, params),
                                       linkage=params["linkage"]).fit_predict(X)


class GenieBackend(KRuleMixin, Backend):
    name = "genie"
    description = ("Genie (genieclust): single linkage on the minimum spanning tree with a Gini "
                   "limit on cluster-size inequality; fitted on at most 20,000 rows")
    # the Euclidean minimum spanning tree is fast in few dimensions and O(n^2) time (memory
    # linear) in many: above 20,000 rows fit a sample and give the rest their nearest row's label
    cost = "quadratic"
    max_fit_rows = 20_000
    pairwise_bytes = 0.0
    params = (
        *RULED_K,
        Param("gini_threshold", "float", default=0.3, low=0.0, high=1.0, search_low=0.05, search_high=0.8,
              help="Gini index of the cluster sizes above which the smallest cluster is merged first "
                   "(1: plain single linkage)"),
        Param("M", "int", default=1, low=1, high=1000, search_low=1, search_high=10,
              help="smoothing: mutual reachability distance of M neighbours (1: plain distance)"),
    )

    def _fit(self, X: np.ndarray, params: dict[str, Any], k: int, coarser: bool) -> Any:
        from .deferred_import import import_genieclust

        genieclust = import_genieclust()  # without matplotlib.pyplot until a plot is drawn

        n = X.shape[0]
        model = genieclust.Genie(n_clusters=int(max(1, min(k, n - 1))), gini_threshold=params["gini_threshold"],
                                 M=int(min(params["M"], n - 1)), coarser=coarser)
        return model.fit(X)

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        return self.resolve_k(X, params, super().resolve(X, params))

    def partitions(self, Xs: np.ndarray, params: dict[str, Any], ks: Sequence[int]) -> dict[int, np.ndarray]:
        """One Genie tree: the k-partition and every coarser one."""
        model = self._fit(Xs, params, max(ks), coarser=True)
        mat = np.asarray(model.labels_matrix_)
        return {k: mat[k - 1] for k in ks if k - 1 < mat.shape[0]}

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        return np.asarray(self._fit(X, params, self.n_clusters_for(X, params), coarser=False).labels_)
