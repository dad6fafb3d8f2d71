"""Density-based backends: DBSCAN, HDBSCAN (the hdbscan package), OPTICS and mean shift.

Their distance parameters are stored scale-free (quantiles of nearest-neighbour
distances) and their minimum sizes as fractions of n.
"""
from __future__ import annotations

import warnings
import weakref
from typing import Any

import numpy as np

from ..params import Param
from .base import Backend
from .scale import knn_distance_quantile, size_from_fraction

MIN_SAMPLES = Param("min_samples", "int", default=5, low=1, high=100_000, search_low=2,
                    search_high=50, log=True, help="neighbours for a core point")


class DBSCANBackend(Backend):
    name = "dbscan"
    description = "DBSCAN; eps from a quantile of k-nearest-neighbour distances"
    cost = "quadratic"
    max_fit_rows = 20_000
    finds_noise = True
    params = (
        Param("eps", "float", default=None, low=1e-12, search=False,
              help="neighbourhood radius in data units (default: from eps_quantile)"),
        Param("eps_quantile", "float", default=0.5, low=1e-4, high=1.0, search_low=0.02,
              search_high=0.98, help="eps as this quantile of min_samples-th neighbour distances"),
        MIN_SAMPLES,
    )
    #: rows whose eps-neighbourhoods are counted to estimate memory
    memory_probe = 256

    def __init__(self) -> None:
        self._last: tuple[Any, tuple, float] | None = None  # (weakref to X, params key, eps)

    def _eps(self, X: np.ndarray, params: dict[str, Any]) -> float:
        """eps for X, remembered for the last X: one run asks three times (memory
        estimate, resolve, cluster), and each answer costs a nearest-neighbour search."""
        if params["eps"] is not None:
            return float(params["eps"])
        key = (X.shape, params["min_samples"], params["eps_quantile"])
        last = self._last
        if last is not None and last[0]() is X and last[1] == key:
            return last[2]
        eps = knn_distance_quantile(X, params["min_samples"], params["eps_quantile"])
        try:
            self._last = (weakref.ref(X), key, eps)
        except TypeError:  # pragma: no cover - arrays support weak references
            self._last = None
        return eps

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        return {"eps": self._eps(X, params), "min_samples": params["min_samples"],
                "preprocess": params["preprocess"]}

    def estimate_memory(self, X: np.ndarray, params: dict[str, Any]) -> int:
        """DBSCAN keeps every row's eps-neighbourhood: counted on a few rows and scaled up.
        A large eps on dense data makes this quadratic in n. scikit-learn's search holds
        distances and indices and then copies the indices: about 24 bytes a neighbour
        (measured: 4.5 GB peak for 14,000 rows that are all each other's neighbours)."""
        n = X.shape[0]
        eps = self._eps(X, params)
        rng = np.random.default_rng(0)
        probe = X if n <= self.memory_probe else X[rng.choice(n, self.memory_probe, replace=False)]
        from sklearn.neighbors import KDTree  # lazy: sklearn costs seconds to import
        counts = KDTree(X).query_radius(probe, eps, count_only=True)
        return int(24.0 * float(np.mean(counts)) * n + 112 * n)

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        r = self.resolve(X, params)
        from sklearn.cluster import DBSCAN
        return DBSCAN(eps=r["eps"], min_samples=r["min_samples"]).fit_predict(X)


class HDBSCANBackend(Backend):
    name = "hdbscan"
    description = "HDBSCAN* (the hdbscan package); sizes as fractions of n"
    cost = "nlogn"
    max_fit_rows = 50_000
    pairwise_bytes = 0.0  # Boruvka on a k-d tree: memory linear in n
    finds_noise = True
    params = (
        Param("min_cluster_size", "int", default=None, low=2, search=False,
              help="smallest cluster in rows (default: from min_cluster_size_frac, else 5)"),
        Param("min_cluster_size_frac", "float", default=None, low=1e-5, high=0.5, search_low=0.002,
              search_high=0.2, log=True, help="smallest cluster as a fraction of n"),
        Param("min_samples", "int", default=None, low=1, high=100_000, search_low=1, search_high=50,
              log=True, help="neighbours for the core distance (default: min_cluster_size)"),
        Param("cluster_selection_method", "categorical", default="eom", choices=("eom", "leaf"),
              help="excess of mass or leaves of the condensed tree"),
        Param("allow_single_cluster", "bool", default=False, help="allow one cluster as the answer"),
    )
    exclusive = (("min_cluster_size", "min_cluster_size_frac"),)

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        n = X.shape[0]
        if params["min_cluster_size"] is not None:
            mcs = params["min_cluster_size"]
        elif params["min_cluster_size_frac"] is not None:
            mcs = size_from_fraction(params["min_cluster_size_frac"], n)
        else:
            mcs = 5  # the hdbscan package's default
        ms = params["min_samples"] if params["min_samples"] is not None else mcs
        return {"min_cluster_size": int(min(mcs, n)), "min_samples": int(min(ms, n - 1)),
                "cluster_selection_method": params["cluster_selection_method"],
                "allow_single_cluster": params["allow_single_cluster"],
                "preprocess": params["preprocess"]}

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        import hdbscan  # imported here: it is slow to import

        from ..encoding import gower_for

        gower = gower_for(X)  # a mixed table: Gower distances (None for a numeric one)
        r = self.resolve(X, params)
        model = hdbscan.HDBSCAN(min_cluster_size=max(2, r["min_cluster_size"]),
                                min_samples=max(1, r["min_samples"]),
                                cluster_selection_method=r["cluster_selection_method"],
                                allow_single_cluster=r["allow_single_cluster"],
                                core_dist_n_jobs=1,
                                **({"metric": "precomputed"} if gower is not None else {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit_predict(X if gower is None else gower.astype(np.float64))


class OPTICSBackend(Backend):
    name = "optics"
    description = "OPTICS with xi-steep cluster extraction"
    cost = "quadratic"
    max_fit_rows = 5000
    pairwise_bytes = 0.0  # scikit-learn computes the distances in bounded chunks
    finds_noise = True
    params = (
        MIN_SAMPLES,
        Param("xi", "float", default=0.05, low=1e-4, high=0.9999, search_low=0.01, search_high=0.3,
              log=True, help="minimum steepness of a cluster boundary"),
        Param("min_cluster_size_frac", "float", default=0.01, low=1e-5, high=0.5, search_low=0.002,
              search_high=0.2, log=True, help="smallest cluster as a fraction of n"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        n = X.shape[0]
        from sklearn.cluster import OPTICS
        from threadpoolctl import threadpool_limits
        model = OPTICS(min_samples=min(params["min_samples"], n), xi=params["xi"],
                       min_cluster_size=size_from_fraction(params["min_cluster_size_frac"], n))
        # OPTICS asks for one row's neighbours at a time; OpenMP threads gain nothing on
        # such small tasks and, on a busy machine, spin-wait: 1,000 rows took 40 s, not 1 s.
        with threadpool_limits(limits=1, user_api="openmp"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit_predict(X)


class MeanShiftBackend(Backend):
    name = "meanshift"
    description = "mean shift with a flat kernel; bandwidth from a distance quantile"
    cost = "quadratic"
    max_fit_rows = 5000
    pairwise_bytes = 0.0  # neighbourhoods of the bin seeds only
    params = (
        Param("bandwidth", "float", default=None, low=1e-12, search=False,
              help="kernel radius in data units (default: from bandwidth_quantile)"),
        Param("bandwidth_quantile", "float", default=0.3, low=1e-3, high=1.0, search_low=0.05,
              search_high=0.7, help="bandwidth as this quantile of pairwise distances"),
    )

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        bw = params["bandwidth"]
        if bw is None:
            from sklearn.cluster import estimate_bandwidth
            bw = float(estimate_bandwidth(X, quantile=params["bandwidth_quantile"],
                                          n_samples=min(X.shape[0], 1000), random_state=0))
            if not bw > 0:
                bw = knn_distance_quantile(X, 5, 0.5)
        return {"bandwidth": bw, "preprocess": params["preprocess"]}

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        bw = self.resolve(X, params)["bandwidth"]
        from sklearn.cluster import MeanShift
        return MeanShift(bandwidth=bw, bin_seeding=True, cluster_all=True).fit_predict(X)
