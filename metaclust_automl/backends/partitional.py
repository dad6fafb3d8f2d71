"""Backends that need the number of clusters: k-means, Gaussian mixture, BIRCH and spectral.

Each takes k as ``n_clusters`` (``n_components`` for the mixture) or, when that is not
given, chooses it on the table by its ``k_rule`` (see :mod:`.krule`)."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..params import Param
from .base import Backend
from .krule import K_MAX, K_RULES, K_WIDEN, KRuleMixin, k_rule_param, n_clusters_param
from .scale import knn_distance_quantile

if TYPE_CHECKING:
    from sklearn.cluster import Birch
    from sklearn.mixture import GaussianMixture

#: a fixed k with a default, for backends without k rules (deep backends, plugins)
N_CLUSTERS = Param("n_clusters", "int", default=8, low=1, high=100_000, search_low=2, search_high=30,
                   help="number of clusters")
#: k, or None to choose it by the backend's k rule
RULED_K = (n_clusters_param(), k_rule_param(), K_MAX, K_WIDEN)


class KMeansBackend(KRuleMixin, Backend):
    name = "kmeans"
    description = "k-means (Lloyd, k-means++ seeding); fitted on at most 200,000 rows, the rest to the nearest centre"
    cost = "linear"
    params = RULED_K
    # A uniform sample of 200,000 rows pins the centres down as well as all rows do, and
    # nearest-centre assignment is exactly k-means' rule. (MiniBatchKMeans was slower:
    # in scikit-learn 1.9 it redraws every batch with probabilities over all n rows.)
    max_fit_rows = 200_000
    assign_method = "centroid"

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        return self.resolve_k(X, params, super().resolve(X, params))

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        from sklearn.cluster import KMeans  # lazy: scikit-learn costs seconds to import

        k = self.n_clusters_for(X, params)
        return KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(X)


class GMMBackend(KRuleMixin, Backend):
    name = "gmm"
    description = "Gaussian mixture fitted by EM"
    cost = "linear"
    max_fit_rows = 200_000
    assign_method = "gaussian"
    k_param = "n_components"
    param_aliases = {"n_clusters": "n_components"}
    params = (
        n_clusters_param("n_components", "number of mixture components (clusters)"),
        k_rule_param((*K_RULES, "bic"), default="bic"),
        K_MAX,
        K_WIDEN,
        Param("covariance_type", "categorical", default="full",
              choices=("full", "tied", "diag", "spherical"), help="form of each component's covariance"),
    )

    def _model(self, k: int, params: dict[str, Any], seed: int) -> GaussianMixture:
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(n_components=k, covariance_type=params["covariance_type"],
                               reg_covar=1e-5, random_state=seed, max_iter=200)

    def rule_k(self, Xs: np.ndarray, params: dict[str, Any], rule: str, ks: Any) -> int:
        """BIC is the mixture's own rule: the lowest BIC of a mixture fitted for each k."""
        if rule != "bic":
            return super().rule_k(Xs, params, rule, ks)
        bics = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in ks:
                try:
                    bics.append(self._model(k, params, 0).fit(Xs).bic(Xs))
                except (ValueError, np.linalg.LinAlgError):
                    bics.append(np.inf)
        return int(ks[int(np.argmin(bics))])

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        return self.resolve_k(X, params, super().resolve(X, params))

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        model = self._model(self.n_clusters_for(X, params), params, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X).predict(X)


class BirchBackend(KRuleMixin, Backend):
    name = "birch"
    description = "BIRCH clustering-feature tree, then a global clustering into n_clusters"
    cost = "linear"
    # scikit-learn builds the tree in Python, and the default threshold (half the median
    # 5-NN distance) leaves about one subcluster per row: 20,000 rows take 5 s, 100,000
    # take 85 s. Above 30,000 rows, fit a sample.
    max_fit_rows = 30_000
    #: above this many subclusters the global step is weighted k-means, not Ward linkage
    #: (Ward holds a condensed distance matrix: 8 bytes a pair)
    max_ward_subclusters = 5000
    params = (
        *RULED_K,
        Param("threshold", "float", default=None, low=1e-12, search=False,
              help="subcluster radius in data units (default: from threshold_factor)"),
        Param("threshold_factor", "float", default=0.5, low=1e-3, high=100, search_low=0.1,
              search_high=5.0, log=True,
              help="threshold as a multiple of the median 5-nearest-neighbour distance"),
    )

    def _threshold(self, X: np.ndarray, params: dict[str, Any]) -> float:
        if params["threshold"] is not None:
            return float(params["threshold"])
        return params["threshold_factor"] * knn_distance_quantile(X, 5, 0.5)

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        out = super().resolve(X, params)
        out["threshold"] = self._threshold(X, params)
        return self.resolve_k(X, params, out)

    def partitions(self, Xs: np.ndarray, params: dict[str, Any], ks: Any) -> dict[int, np.ndarray]:
        """One tree, then the global step for each k."""
        tree = self._tree(Xs, params)
        return {k: self._global(tree, k, 0) for k in ks}

    def _tree(self, X: np.ndarray, params: dict[str, Any]) -> Birch:
        from sklearn.cluster import Birch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Birch(n_clusters=None, threshold=self._threshold(X, params)).fit(X)

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        return self._global(self._tree(X, params), self.n_clusters_for(X, params), seed)

    def _global(self, tree: Birch, k: int, seed: int) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering, KMeans

        sub = np.asarray(tree.labels_)  # each row's subcluster
        centres = tree.subcluster_centers_
        if centres.shape[0] <= k:
            return sub
        # scikit-learn's own global step (Ward on all subcluster centres) needs
        # 8 bytes per pair of subclusters: 27 GB for the 85,000 a small threshold gives on
        # 100,000 rows. Beyond a few thousand subclusters, weighted k-means does the job.
        if centres.shape[0] <= self.max_ward_subclusters:
            top = AgglomerativeClustering(n_clusters=k).fit_predict(centres)
        else:
            weights = np.bincount(sub, minlength=centres.shape[0]).astype(np.float64)
            top = KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(
                centres, sample_weight=weights)
        return top[sub]


class SpectralBackend(KRuleMixin, Backend):
    name = "spectral"
    description = "spectral clustering on a k-nearest-neighbour graph"
    cost = "quadratic"
    max_fit_rows = 3000
    pairwise_bytes = 0.0  # a sparse k-nearest-neighbour graph: memory linear in n
    params = (
        *RULED_K,
        Param("n_neighbors", "int", default=10, low=2, high=10_000, search_low=3, search_high=50,
              log=True, help="neighbours in the affinity graph"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        from sklearn.cluster import SpectralClustering

        n = X.shape[0]
        model = SpectralClustering(n_clusters=min(self.n_clusters_for(X, params), n - 1),
                                   affinity="nearest_neighbors",
                                   n_neighbors=min(params["n_neighbors"], n - 1),
                                   assign_labels="cluster_qr", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit_predict(X)

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        return self.resolve_k(X, params, super().resolve(X, params))
