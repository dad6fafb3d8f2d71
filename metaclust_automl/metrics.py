"""Scores of a clustering: external (against reference labels) and internal (label-free).

External scores -- clustering accuracy (ACC), NMI and ARI -- share these conventions:

- rows whose reference label is missing (``None``, NaN, pandas' NA) or equal to
  ``ignore_label`` (e.g. 0 for the benchmark suite's noise points) are not scored;
- a predicted -1 (noise; any negative label) is, by default, one more cluster of its
  own (``noise="cluster"``), so that a clustering earns credit for grouping noise rows
  only when they share a class; ``noise="singletons"`` makes every noise row a cluster
  of its own, which never earns credit for grouping noise together (ARI and ACC then
  treat noise as unmatched rows);
- when no row is left to score, the score is NaN (there is nothing to measure).

All three are computed from one contingency table in O(n) (plus a sort when the table
is sparse), so scoring a million labels takes a fraction of a second.

Internal indices (``internal_indices``) score a clustering without labels on a bounded
sample and are always finite: an index that is undefined takes its worst value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError, DataError

NOISE_MODES = ("cluster", "singletons")

#: dense contingency tables up to this many cells (16 MB); sparse beyond
_DENSE_CELLS = 1 << 21


# -- preparing labels -----------------------------------------------------------------

def _as_vector(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise DataError(f"{what} must be one label per row (a 1-D sequence), got shape {arr.shape}")
    return arr


def _missing(t: np.ndarray) -> np.ndarray:
    if t.dtype.kind in "fc":
        return np.isnan(t)
    if t.dtype.kind == "O":
        import pandas as pd

        return np.asarray(pd.isna(t), dtype=bool)
    return np.zeros(t.shape[0], dtype=bool)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - exotic label types that refuse comparison
        return False


def _pred_codes(p: np.ndarray) -> np.ndarray:
    """Predicted labels as int64 (noise stays negative), or a DataError."""
    if p.dtype.kind in "iub":
        return p.astype(np.int64, copy=False)
    if p.dtype.kind == "f":
        if not np.all(np.isfinite(p)) or not np.all(p == np.round(p)):
            raise DataError("predicted labels must be integers (noise = -1); got non-integer values")
        return p.astype(np.int64)
    try:
        return p.astype(np.int64)
    except (TypeError, ValueError):
        raise DataError("predicted labels must be integers (noise = -1)") from None


def _prepare(y_true: Any, y_pred: Any, ignore_label: Any = None, noise: str = "cluster"
             ) -> tuple[np.ndarray, np.ndarray]:
    """Reference and predicted labels of the scored rows as dense codes ``0..k-1``.

    Vectorised: missing labels are found by NumPy or pandas in C, labels are encoded by
    hashing (``pandas.factorize``), so the cost is linear in the number of rows.
    """
    import pandas as pd

    if noise not in NOISE_MODES:
        raise ConfigError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
    t = _as_vector(y_true, "reference labels")
    p = _as_vector(y_pred, "predicted labels")
    if t.shape[0] != p.shape[0]:
        raise DataError(f"{t.shape[0]} reference labels for {p.shape[0]} predicted labels")
    keep = ~_missing(t)
    if not keep.all():
        t, p = t[keep], p[keep]
    p = _pred_codes(p)
    t_codes, uniques = pd.factorize(t, use_na_sentinel=True)
    t_codes = np.asarray(t_codes, dtype=np.int64)
    if ignore_label is not None:
        dropped = [i for i, u in enumerate(np.asarray(uniques, dtype=object)) if _same(u, ignore_label)]
        if dropped:
            keep = ~np.isin(t_codes, dropped)
            t_codes, p = t_codes[keep], p[keep]
            _, t_codes = np.unique(t_codes, return_inverse=True)
    noise_rows = p < 0
    if noise == "singletons" and noise_rows.any():
        p_codes = np.empty(p.size, dtype=np.int64)
        regular = np.asarray(pd.factorize(p[~noise_rows])[0], dtype=np.int64)
        p_codes[~noise_rows] = regular
        base = int(regular.max()) + 1 if regular.size else 0
        p_codes[noise_rows] = base + np.arange(int(noise_rows.sum()))
    else:
        p_codes = np.asarray(pd.factorize(p)[0], dtype=np.int64)
    return t_codes.astype(np.int64, copy=False), p_codes


# -- the contingency table ------------------------------------------------------------

@dataclass
class Contingency:
    """Non-zero cells of the clusters x classes table, with row and column sums."""

    rows: np.ndarray  #: cluster code of each non-zero cell
    cols: np.ndarray  #: class code of each non-zero cell
    counts: np.ndarray  #: rows in that cell
    cluster_sizes: np.ndarray
    class_sizes: np.ndarray

    @property
    def n(self) -> int:
        return int(self.class_sizes.sum())

    @classmethod
    def build(cls, t: np.ndarray, p: np.ndarray) -> Contingency:
        C = int(t.max()) + 1 if t.size else 0
        R = int(p.max()) + 1 if p.size else 0
        if R * C <= _DENSE_CELLS:
            table = np.bincount(p * C + t, minlength=R * C).reshape(R, C)
            rows, cols = np.nonzero(table)
            counts = table[rows, cols]
        else:
            keys, counts = np.unique(p * C + t, return_counts=True)
            rows, cols = keys // C, keys % C
        return cls(rows=rows, cols=cols, counts=counts.astype(np.int64),
                   cluster_sizes=np.bincount(p, minlength=R), class_sizes=np.bincount(t, minlength=C))


def _accuracy(ct: Contingency) -> float:
    from scipy.optimize import linear_sum_assignment

    C = ct.class_sizes.size
    rows = np.arange(ct.cluster_sizes.size)
    if rows.size > C:
        # Only a class's C largest cells can be in an optimal matching (any other one can be
        # swapped for an unmatched one of those), so the table shrinks to at most C * C rows.
        order = np.lexsort((-ct.counts, ct.cols))
        cols = ct.cols[order]
        start = np.searchsorted(cols, cols, side="left")
        rank = np.arange(cols.size) - start
        rows = np.unique(ct.rows[order][rank < C])
    local = np.full(ct.cluster_sizes.size, -1, dtype=np.int64)
    local[rows] = np.arange(rows.size)
    sel = local[ct.rows] >= 0
    table = np.zeros((rows.size, C), dtype=np.int64)
    table[local[ct.rows[sel]], ct.cols[sel]] = ct.counts[sel]
    r, c = linear_sum_assignment(table, maximize=True)
    return float(table[r, c].sum() / ct.n)


def _nmi(ct: Contingency) -> float:
    n = ct.n
    a, b = ct.cluster_sizes[ct.cluster_sizes > 0], ct.class_sizes[ct.class_sizes > 0]
    if a.size == b.size == 1:
        return 1.0  # both labelings put everything together: a perfect match (as scikit-learn)
    v = ct.counts.astype(np.float64)
    mi = float(np.sum(v / n * (np.log(v) + np.log(n) - np.log(ct.cluster_sizes[ct.rows])
                               - np.log(ct.class_sizes[ct.cols]))))
    mi = max(mi, 0.0)
    if mi <= 1e-15:
        return 0.0
    h_pred = float(-np.sum(a / n * np.log(a / n)))
    h_true = float(-np.sum(b / n * np.log(b / n)))
    return float(min(mi / ((h_pred + h_true) / 2.0), 1.0))


def _ari(ct: Contingency) -> float:
    n = ct.n
    sum_sq = int(np.sum(ct.counts.astype(np.int64) ** 2))
    sa = int(np.sum(ct.cluster_sizes.astype(np.int64) ** 2))
    sb = int(np.sum(ct.class_sizes.astype(np.int64) ** 2))
    tp = sum_sq - n
    fp = sa - sum_sq  # together in a cluster, apart in the reference
    fn = sb - sum_sq
    tn = n * n - fp - fn - sum_sq
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def _scored(y_true: Any, y_pred: Any, ignore_label: Any, noise: str) -> Contingency | None:
    t, p = _prepare(y_true, y_pred, ignore_label, noise)
    return Contingency.build(t, p) if t.size else None


def clustering_accuracy(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> float:
    """Share of rows correctly labelled under the best one-to-one matching of clusters to
    classes (Hungarian algorithm on the contingency table). Clusters left unmatched,
    when there are more clusters than classes, count as wrong."""
    ct = _scored(y_true, y_pred, ignore_label, noise)
    return float("nan") if ct is None else _accuracy(ct)


def nmi(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> float:
    """Normalised mutual information (arithmetic mean normalisation, as scikit-learn)."""
    ct = _scored(y_true, y_pred, ignore_label, noise)
    return float("nan") if ct is None else _nmi(ct)


def ari(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> float:
    """Adjusted Rand index (equal to scikit-learn's ``adjusted_rand_score``)."""
    ct = _scored(y_true, y_pred, ignore_label, noise)
    return float("nan") if ct is None else _ari(ct)


def external_scores(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> dict[str, float]:
    """ACC, NMI and ARI at once (one pass over the labels)."""
    ct = _scored(y_true, y_pred, ignore_label, noise)
    if ct is None:
        return {"acc": float("nan"), "nmi": float("nan"), "ari": float("nan")}
    return {"acc": _accuracy(ct), "nmi": _nmi(ct), "ari": _ari(ct)}


# -- internal indices -----------------------------------------------------------------

def single_threaded_blas():  # noqa: ANN201 - a context manager
    """Run small matrix products on one BLAS thread: on a busy machine, multithreaded
    BLAS makes products of a few thousand rows many times slower, not faster."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


#: names of the internal indices, in the order the knowledge base stores them
INDEX_NAMES = ("silhouette", "calinski_harabasz", "davies_bouldin", "n_clusters", "noise_share", "dbcv")

#: the value each index takes when it is undefined (fewer than two clusters, ...)
WORST = {"silhouette": -1.0, "calinski_harabasz": 0.0, "davies_bouldin": 10.0, "dbcv": -1.0}
DB_CAP = 10.0


def pairwise_distances(X: np.ndarray) -> np.ndarray:
    """Square matrix of Euclidean distances between the rows of ``X`` (exact zeros on the
    diagonal and between identical rows when d is small; BLAS for wide tables)."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if n < 2:
        return np.zeros((n, n))
    if d <= 32:
        from scipy.spatial.distance import pdist, squareform

        return squareform(pdist(X))
    sq = np.einsum("ij,ij->i", X, X)
    D = X @ X.T
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    np.maximum(D, 0.0, out=D)
    np.sqrt(D, out=D)
    D = (D + D.T) / 2.0
    np.fill_diagonal(D, 0.0)
    return D


def _codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.int64), int(uniq.size)


def silhouette_from_distances(D: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette width from a square distance matrix (scikit-learn's conventions:
    rows alone in their cluster score 0). NaN unless 2 <= clusters < rows."""
    codes, k = _codes(np.asarray(labels))
    n = codes.size
    if not 2 <= k < n:
        return float("nan")
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    if k <= 32:
        onehot = np.zeros((n, k))
        onehot[np.arange(n), codes] = 1.0
        sums = D @ onehot
    else:
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(k))
        sums = np.add.reduceat(D[:, order], starts, axis=1)
    rows = np.arange(n)
    own = counts[codes]
    a = sums[rows, codes] / np.maximum(own - 1.0, 1.0)
    means = sums / counts
    means[rows, codes] = np.inf
    b = means.min(axis=1)
    denom = np.maximum(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where((own > 1) & (denom > 0), (b - a) / denom, 0.0)
    return float(s.mean())


def _centroids(X: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster means of ``X`` for codes 0..k-1 (every code present), and cluster sizes."""
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(k))
    sums = np.add.reduceat(X[order], starts, axis=0)
    return sums / counts[:, None], counts


def calinski_harabasz(X: np.ndarray, labels: np.ndarray) -> float:
    """Calinski-Harabasz variance ratio (as scikit-learn; 1 when clusters are points).
    NaN unless 2 <= clusters < rows."""
    codes, k = _codes(np.asarray(labels))
    n = codes.size
    if not 2 <= k < n:
        return float("nan")
    cent, counts = _centroids(X, codes, k)
    mean = X.mean(axis=0)
    extra = float(np.sum(counts * np.sum((cent - mean) ** 2, axis=1)))
    intra = float(np.sum((X - cent[codes]) ** 2))
    return 1.0 if intra == 0.0 else extra * (n - k) / (intra * (k - 1.0))


def davies_bouldin(X: np.ndarray, labels: np.ndarray) -> float:
    """Davies-Bouldin index (as scikit-learn; lower is better). NaN unless 2 <= clusters < rows."""
    codes, k = _codes(np.asarray(labels))
    n = codes.size
    if not 2 <= k < n:
        return float("nan")
    cent, _ = _centroids(X, codes, k)
    spread = np.bincount(codes, weights=np.linalg.norm(X - cent[codes], axis=1), minlength=k)
    spread /= np.bincount(codes, minlength=k)
    sep = pairwise_distances(cent)
    if np.allclose(spread, 0) or np.allclose(sep, 0):
        return 0.0
    sep[sep == 0] = np.inf
    ratio = (spread[:, None] + spread[None, :]) / sep
    np.fill_diagonal(ratio, -np.inf)
    return float(np.mean(ratio.max(axis=1)))


def _prim(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning tree of a dense symmetric weight matrix (Prim, O(m^2) in NumPy):
    arrays of edge endpoints and weights."""
    m = W.shape[0]
    u = np.zeros(m - 1, dtype=np.int64)
    v = np.zeros(m - 1, dtype=np.int64)
    w = np.zeros(m - 1)
    if m < 2:
        return u, v, w
    done = np.zeros(m, dtype=bool)
    done[0] = True
    best = W[0].copy()
    best[0] = np.inf
    parent = np.zeros(m, dtype=np.int64)
    for e in range(m - 1):
        j = int(np.argmin(best))
        u[e], v[e], w[e] = parent[j], j, best[j]
        done[j] = True
        best[j] = np.inf
        closer = (W[j] < best) & ~done
        best[closer] = W[j][closer]
        parent[closer] = j
    return u, v, w


def dbcv(D: np.ndarray, labels: np.ndarray, dim: int, noise_share: float = 0.0) -> float:
    """Density-Based Clustering Validation (Moulavi et al. 2014), in [-1, 1], higher is better.

    ``D`` holds the distances between clustered rows (no noise rows), ``dim`` is the
    dimension of the data (it enters the all-points core distance), and ``noise_share``
    the share of noise rows in the whole table: as in the paper, the score is a weighted
    mean over clusters in which noise rows weigh in with 0. Clusters of a single sampled
    row take the distance to their nearest row as core distance and a sparseness of 0.
    NaN with fewer than two clusters.
    """
    codes, k = _codes(np.asarray(labels))
    n = codes.size
    if k < 2 or n < 2:
        return float("nan")
    dim = max(int(dim), 1)
    tiny = max(float(D.max()) * 1e-12, 1e-300)
    members = [np.flatnonzero(codes == c) for c in range(k)] if k <= 64 else \
        np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes, minlength=k))[:-1])
    core = np.empty(n)
    sparseness = np.zeros(k)
    internal = []
    for c, idx in enumerate(members):
        m = idx.size
        if m == 1:
            row = np.maximum(D[idx[0]], tiny)
            row[idx[0]] = np.inf
            core[idx] = row.min()
            internal.append(idx)
            continue
        block = np.maximum(D[np.ix_(idx, idx)], tiny)
        # all-points core distance: (mean over the other members of dist^-dim)^(-1/dim),
        # in log space so that dist^-dim cannot overflow
        L = np.log(block)
        L *= -dim
        np.fill_diagonal(L, -np.inf)
        top = L.max(axis=1, keepdims=True)
        L -= top
        np.exp(L, out=L)
        cc = np.exp(-(top[:, 0] + np.log(L.sum(axis=1)) - np.log(m - 1)) / dim)
        core[idx] = cc
        # mutual reachability inside the cluster, and its minimum spanning tree
        np.maximum(block, cc[:, None], out=block)
        np.maximum(block, cc[None, :], out=block)
        eu, ev, ew = _prim(block)
        degree = np.bincount(np.concatenate([eu, ev]), minlength=m)
        inner = degree > 1
        inner_edges = inner[eu] & inner[ev]
        sparseness[c] = ew[inner_edges].max() if inner_edges.any() else ew.max()
        internal.append(idx[inner] if inner.any() else idx)
    sel = np.concatenate(internal)
    starts = np.cumsum([0] + [i.size for i in internal[:-1]])
    MR = np.maximum(D[np.ix_(sel, sel)], tiny)
    np.maximum(MR, core[sel][:, None], out=MR)
    np.maximum(MR, core[sel][None, :], out=MR)
    block = np.minimum.reduceat(MR, starts, axis=1)
    sep = np.minimum.reduceat(block, starts, axis=0)
    np.fill_diagonal(sep, np.inf)
    separation = sep.min(axis=1)
    denom = np.maximum(separation, sparseness)
    with np.errstate(invalid="ignore", divide="ignore"):
        vc = np.where(denom > 0, (separation - sparseness) / denom, 0.0)
    sizes = np.array([i.size for i in members], dtype=np.float64)
    return float((1.0 - noise_share) * np.sum(sizes / n * vc))


def internal_indices(X: np.ndarray, labels: Any, *, sample_size: int = 2000, seed: int = 0) -> dict[str, float]:
    """Label-free quality indices of a clustering, on at most ``sample_size`` rows.

    Returns every name of ``INDEX_NAMES``: silhouette (-1..1), Calinski-Harabasz as
    ``log1p`` of the variance ratio, Davies-Bouldin capped at 10, the number of clusters and
    the share of noise rows (both exact, on all rows), and DBCV (-1..1; noise rows weigh in
    with 0). Noise rows (-1) are left out of the other indices. When fewer than two
    clusters remain in the sample, or each sampled row is its own cluster, the four quality
    indices take their worst values (``WORST``: silhouette -1, Calinski-Harabasz 0,
    Davies-Bouldin 10, DBCV -1), never NaN.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    labels = _pred_codes(_as_vector(labels, "labels"))
    n = labels.shape[0]
    if X.shape[0] != n:
        raise DataError(f"{n} labels for a table of {X.shape[0]} rows")
    clustered = labels >= 0
    k = int(np.unique(labels[clustered]).size)
    noise_share = float(1.0 - clustered.mean()) if n else 0.0
    out = {"silhouette": WORST["silhouette"], "calinski_harabasz": WORST["calinski_harabasz"],
           "davies_bouldin": WORST["davies_bouldin"], "n_clusters": float(k),
           "noise_share": noise_share, "dbcv": WORST["dbcv"]}
    idx = np.flatnonzero(clustered)
    if idx.size > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, sample_size, replace=False))
    Xs, ls = X[idx], labels[idx]
    ks = int(np.unique(ls).size)
    if 2 <= ks < ls.size:
        with single_threaded_blas():
            _quality(Xs, ls, noise_share, X.shape[1], out)
    return {name: (float(out[name]) if np.isfinite(out[name]) else WORST.get(name, 0.0))
            for name in INDEX_NAMES}


def _quality(Xs: np.ndarray, ls: np.ndarray, noise_share: float, dim: int, out: dict[str, float]) -> None:
    D = pairwise_distances(Xs)
    out["silhouette"] = silhouette_from_distances(D, ls)
    out["calinski_harabasz"] = float(np.log1p(calinski_harabasz(Xs, ls)))
    out["davies_bouldin"] = float(min(davies_bouldin(Xs, ls), DB_CAP))
    out["dbcv"] = dbcv(D, ls, dim, noise_share)
