"""Backends that need the number of clusters: k-means, Gaussian mixture, BIRCH and spectral."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..params import Param
from .base import Backend
from .scale import knn_distance_quantile

N_CLUSTERS = Param("n_clusters", "int", default=8, low=1, high=100_000, search_low=2, search_high=30,
                   help="number of clusters")


class KMeansBackend(Backend):
    name = "kmeans"
    description = "k-means (Lloyd, k-means++ seeding); fitted on at most 200,000 rows, the rest to the nearest centre"
    cost = "linear"
    params = (N_CLUSTERS,)
    # A uniform sample of 200,000 rows pins the centres down as well as all rows do, and
    # nearest-centre assignment is exactly k-means' rule. (MiniBatchKMeans was slower:
    # in scikit-learn 1.9 it redraws every batch with probabilities over all n rows.)
    max_fit_rows = 200_000
    assign_method = "centroid"

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        k = min(params["n_clusters"], X.shape[0])
        from sklearn.cluster import KMeans  # lazy: sklearn costs seconds to import
        return KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(X)


class GMMBackend(Backend):
    name = "gmm"
    description = "Gaussian mixture fitted by EM"
    cost = "linear"
    max_fit_rows = 200_000
    assign_method = "gaussian"
    param_aliases = {"n_clusters": "n_components"}
    params = (
        Param("n_components", "int", default=8, low=1, high=100_000, search_low=2, search_high=30,
              help="number of mixture components (clusters)"),
        Param("covariance_type", "categorical", default="full",
              choices=("full", "tied", "diag", "spherical"), help="form of each component's covariance"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        from sklearn.mixture import GaussianMixture
        model = GaussianMixture(n_components=params["n_components"],
                                covariance_type=params["covariance_type"],
                                reg_covar=1e-5, random_state=seed, max_iter=200)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X).predict(X)


class BirchBackend(Backend):
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
        N_CLUSTERS,
        Param("threshold", "float", default=None, low=1e-12, search=False,
              help="subcluster radius in data units (default: from threshold_factor)"),
        Param("threshold_factor", "float", default=0.5, low=1e-3, high=100, search_low=0.1,
              search_high=5.0, log=True,
              help="threshold as a multiple of the median 5-nearest-neighbour distance"),
    )

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        out = super().resolve(X, params)
        if params["threshold"] is None:
            out["threshold"] = params["threshold_factor"] * knn_distance_quantile(X, 5, 0.5)
        return out

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        threshold = self.resolve(X, params)["threshold"]
        k = params["n_clusters"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sklearn.cluster import AgglomerativeClustering, Birch, KMeans
            tree = Birch(n_clusters=None, threshold=threshold).fit(X)
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


class SpectralBackend(Backend):
    name = "spectral"
    description = "spectral clustering on a k-nearest-neighbour graph"
    cost = "quadratic"
    max_fit_rows = 3000
    pairwise_bytes = 0.0  # a sparse k-nearest-neighbour graph: memory linear in n
    params = (
        N_CLUSTERS,
        Param("n_neighbors", "int", default=10, low=2, high=10_000, search_low=3, search_high=50,
              log=True, help="neighbours in the affinity graph"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        n = X.shape[0]
        from sklearn.cluster import SpectralClustering
        model = SpectralClustering(n_clusters=min(params["n_clusters"], n - 1),
                                   affinity="nearest_neighbors",
                                   n_neighbors=min(params["n_neighbors"], n - 1),
                                   assign_labels="cluster_qr", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit_predict(X)
