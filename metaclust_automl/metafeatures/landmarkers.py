"""Landmarkers: how well cheap clusterings of the sample do, by label-free indices.

Which clustering suits a table shows in how cheap ones fare on it: k-means for a few
k (do compact, convex groups exist, and how many?), a single-linkage cut (are there
well-separated groups of any shape?), HDBSCAN (are there dense groups among noise?).
All run on the first ``LANDMARK_ROWS`` rows of the standardised sample. An index that
is undefined (fewer than two clusters, fewer rows than k) takes its worst value:
silhouette -1, Calinski-Harabasz 0, Davies-Bouldin 10, DBCV -1.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..metrics import DB_CAP, WORST, calinski_harabasz, davies_bouldin, dbcv, silhouette_from_distances
from .base import LANDMARK_ROWS, Context, MetaFeatureGroup

KMEANS_K = (2, 4, 8)
KMEANS_INIT = 2
KMEANS_ITER = 50
#: single-linkage gap cuts consider 2 .. this many clusters
SLINK_MAX_CLUSTERS = 20
#: HDBSCAN's minimum cluster size, as a share of the landmark rows (at least 5 rows)
HDBSCAN_MIN_SHARE = 0.02


def kmeans(Z: np.ndarray, k: int, seed: int, n_init: int = KMEANS_INIT,
           max_iter: int = KMEANS_ITER) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding, best of ``n_init`` by inertia.

    A few milliseconds on a thousand rows, which scikit-learn's estimator (built for big
    tables) cannot match on small ones. Fewer than k distinct rows give fewer clusters.
    """
    s = Z.shape[0]
    rng = np.random.default_rng([seed, k, 0x6B6D])
    sq = np.einsum("ij,ij->i", Z, Z)
    best, best_inertia = np.zeros(s, dtype=np.int64), np.inf
    for _ in range(n_init):
        centers = [int(rng.integers(s))]
        d2 = np.maximum(sq - 2.0 * Z @ Z[centers[0]] + sq[centers[0]], 0.0)
        for _ in range(1, k):
            total = d2.sum()
            if not total > 0:
                break
            c = int(rng.choice(s, p=d2 / total))
            centers.append(c)
            d2 = np.minimum(d2, np.maximum(sq - 2.0 * Z @ Z[c] + sq[c], 0.0))
        C = Z[centers].copy()
        labels = np.zeros(s, dtype=np.int64)
        for it in range(max_iter):
            dist = sq[:, None] - 2.0 * Z @ C.T + np.einsum("ij,ij->i", C, C)[None, :]
            new = np.argmin(dist, axis=1)
            if it and np.array_equal(new, labels):
                break
            labels = new
            onehot = np.zeros((s, C.shape[0]))
            onehot[np.arange(s), labels] = 1.0
            counts = onehot.sum(axis=0)
            sums = onehot.T @ Z
            filled = counts > 0
            C[filled] = sums[filled] / counts[filled, None]
        inertia = float(np.sum((Z - C[labels]) ** 2))
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels, inertia
    return best


def _indices(Z: np.ndarray, D: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """(silhouette, log1p Calinski-Harabasz, Davies-Bouldin capped); NaN when undefined."""
    sil = silhouette_from_distances(D, labels)
    ch = calinski_harabasz(Z, labels)
    db = davies_bouldin(Z, labels)
    return sil, float(np.log1p(ch)), float(min(db, DB_CAP))


def _size_entropy(labels: np.ndarray) -> float:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if counts.size < 2:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(counts.size))


def _single_linkage(D: np.ndarray, condensed: np.ndarray, out: dict[str, float], med: float) -> None:
    from scipy.cluster.hierarchy import fcluster, linkage

    s = D.shape[0]
    L = linkage(condensed, method="single")
    four = fcluster(L, t=min(4, s), criterion="maxclust")
    out["slink_largest_share"] = np.bincount(four).max() / s
    h = L[:, 2]
    top = min(SLINK_MAX_CLUSTERS, s - 1)
    if top < 2:
        return
    floor = 0.01 * med if med > 0 else 1e-12
    cs = np.arange(2, top + 1)
    ratio = h[s - cs] / np.maximum(h[s - cs - 1], floor)
    best = int(np.argmax(ratio))
    c = int(cs[best])
    out["slink_gap_clusters"] = float(c)
    out["slink_gap_log_ratio"] = float(np.log(max(ratio[best], 1.0)))
    out["slink_gap_silhouette"] = silhouette_from_distances(D, fcluster(L, t=c, criterion="maxclust"))


def _hdbscan(Z: np.ndarray, D: np.ndarray, out: dict[str, float]) -> None:
    from sklearn.cluster import HDBSCAN

    s = Z.shape[0]
    mcs = max(5, int(round(HDBSCAN_MIN_SHARE * s)))
    if s < 2 * mcs:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = HDBSCAN(min_cluster_size=mcs, copy=True).fit_predict(Z)
    clustered = labels >= 0
    found = int(np.unique(labels[clustered]).size)
    out["hdbscan_clusters"] = float(found)
    out["hdbscan_noise_share"] = float(1.0 - clustered.mean())
    out["hdbscan_largest_share"] = float(np.bincount(labels[clustered]).max() / s) if found else 0.0
    if found >= 2:
        keep = np.flatnonzero(clustered)
        Dc = D if keep.size == s else D[np.ix_(keep, keep)]
        out["hdbscan_silhouette"] = silhouette_from_distances(Dc, labels[keep])
        out["hdbscan_dbcv"] = dbcv(Dc, labels[keep], Z.shape[1], out["hdbscan_noise_share"])


def _landmarkers(ctx: Context) -> dict[str, float]:
    Z = ctx.Z[:LANDMARK_ROWS]
    s = Z.shape[0]
    D = ctx.D[:s, :s]
    out: dict[str, float] = {}
    if s < 3:
        return out
    for k in KMEANS_K:
        if k >= s:
            continue
        labels = kmeans(Z, k, ctx.seed)
        sil, ch, db = _indices(Z, D, labels)
        out.update({f"kmeans{k}_silhouette": sil, f"kmeans{k}_ch": ch, f"kmeans{k}_db": db})
        if k == max(KMEANS_K):
            out["kmeans8_size_entropy"] = _size_entropy(labels)
    _single_linkage(D, ctx.distances, out, ctx.median_distance)
    _hdbscan(Z, D, out)
    return out


_FEATURES: dict[str, str] = {}
for _k in KMEANS_K:
    _FEATURES[f"kmeans{_k}_silhouette"] = f"silhouette of k-means with k={_k} (-1 if undefined)"
    _FEATURES[f"kmeans{_k}_ch"] = f"log1p Calinski-Harabasz of k-means with k={_k} (0 if undefined)"
    _FEATURES[f"kmeans{_k}_db"] = f"Davies-Bouldin of k-means with k={_k}, capped at 10 (10 if undefined)"
_FEATURES.update({
    "kmeans8_size_entropy": "entropy of the k-means (k=8) cluster sizes / log clusters: 1 balanced, "
                            "0 one cluster",
    "slink_largest_share": "share of rows in the largest cluster of single linkage cut into 4 "
                           "(1 if undefined): below 1 when well-separated groups exist",
    "slink_gap_clusters": f"clusters (2..{SLINK_MAX_CLUSTERS}) left by cutting the single-linkage tree at "
                          "its largest relative jump in merge height (1 if undefined)",
    "slink_gap_log_ratio": "log of that largest relative jump in single-linkage merge height "
                           "(0 if undefined)",
    "slink_gap_silhouette": "silhouette of that single-linkage cut (-1 if undefined)",
    "hdbscan_clusters": "clusters found by HDBSCAN (min cluster size 2% of the rows; 0 if undefined)",
    "hdbscan_noise_share": "share of rows HDBSCAN calls noise (1 if undefined)",
    "hdbscan_largest_share": "share of rows in HDBSCAN's largest cluster (0 if undefined)",
    "hdbscan_silhouette": "silhouette of HDBSCAN's clusters, noise left out (-1 if fewer than two)",
    "hdbscan_dbcv": "DBCV of HDBSCAN's clustering, noise weighing 0 (-1 if fewer than two clusters)",
})

_FALLBACKS: dict[str, float] = {}
for _name in _FEATURES:
    for _index in ("silhouette", "db", "dbcv"):
        if _name.endswith("_" + _index):
            _FALLBACKS[_name] = WORST["davies_bouldin"] if _index == "db" else WORST[_index]
_FALLBACKS.update(slink_largest_share=1.0, slink_gap_clusters=1.0, hdbscan_noise_share=1.0)

LANDMARKERS = MetaFeatureGroup(name="landmarkers", features=_FEATURES, compute=_landmarkers,
                               fallback=0.0, fallbacks=_FALLBACKS)
