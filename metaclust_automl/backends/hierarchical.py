"""Agglomerative (linkage) clustering."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from ..params import Param
from .base import Backend
from .partitional import N_CLUSTERS


class AgglomerativeBackend(Backend):
    name = "agglomerative"
    description = "hierarchical agglomerative clustering cut at n_clusters"
    cost = "quadratic"
    max_fit_rows = 5000
    # SciPy's linkage holds the condensed distance matrix (4 bytes a pair) and a copy
    pairwise_bytes = 8.0
    params = (
        N_CLUSTERS,
        Param("linkage", "categorical", default="ward",
              choices=("ward", "complete", "average", "single"), help="linkage criterion"),
    )

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        from ..encoding import gower_for

        # a mixed table: Gower distances for the linkages that take any metric (not ward)
        gower = gower_for(X) if params["linkage"] != "ward" else None
        if gower is not None:
            return AgglomerativeClustering(n_clusters=params["n_clusters"], linkage=params["linkage"],
                                           metric="precomputed").fit_predict(gower)
        return AgglomerativeClustering(n_clusters=params["n_clusters"],
                                       linkage=params["linkage"]).fit_predict(X)
