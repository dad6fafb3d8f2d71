"""External scores of a clustering against reference labels: ACC, NMI, ARI.

Conventions, shared by all three:
- rows whose reference label is missing (``None``, NaN, or ``ignore_label``, e.g. 0 for the
  benchmark suite's noise points) are not scored;
- a predicted -1 (noise) is, by default, one more cluster of its own
  (``noise="cluster"``); ``noise="singletons"`` treats every noise row as its own cluster,
  which never earns credit for grouping noise together.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .errors import ConfigError, DataError

NOISE_MODES = ("cluster", "singletons")


def _prepare(y_true: Any, y_pred: Any, ignore_label: Any = None, noise: str = "cluster"
             ) -> tuple[np.ndarray, np.ndarray]:
    if noise not in NOISE_MODES:
        raise ConfigError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
    t = np.asarray(y_true, dtype=object)
    p = np.asarray(y_pred)
    if t.shape[0] != p.shape[0]:
        raise DataError(f"{t.shape[0]} reference labels for {p.shape[0]} predicted labels")
    keep = np.array([not (v is None or (isinstance(v, float) and np.isnan(v))) for v in t], dtype=bool)
    if ignore_label is not None:
        keep &= np.array([v != ignore_label for v in t], dtype=bool)
    t, p = t[keep], p[keep].astype(np.int64)
    _, t_codes = np.unique(t.astype(str), return_inverse=True)
    if noise == "singletons" and (p < 0).any():
        p = p.copy()
        base = p.max() + 1 if (p >= 0).any() else 0
        p[p < 0] = base + np.arange(int((p < 0).sum()))
    return t_codes.astype(np.int64), p


def clustering_accuracy(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> float:
    """Share of rows correctly labelled under the best one-to-one matching of clusters to
    classes (Hungarian algorithm on the contingency table). Clusters left unmatched,
    when there are more clusters than classes, count as wrong."""
    t, p = _prepare(y_true, y_pred, ignore_label, noise)
    if t.size == 0:
        return float("nan")
    _, t_idx = np.unique(t, return_inverse=True)
    _, p_idx = np.unique(p, return_inverse=True)
    table = np.zeros((p_idx.max() + 1, t_idx.max() + 1), dtype=np.int64)
    np.add.at(table, (p_idx, t_idx), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / t.size)


def nmi(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> float:
    """Normalised mutual information (arithmetic mean normalisation, as scikit-learn)."""
    t, p = _prepare(y_true, y_pred, ignore_label, noise)
    if t.size == 0:
        return float("nan")
    return float(normalized_mutual_info_score(t, p))


def ari(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> float:
    """Adjusted Rand index."""
    t, p = _prepare(y_true, y_pred, ignore_label, noise)
    if t.size == 0:
        return float("nan")
    return float(adjusted_rand_score(t, p))


def external_scores(y_true: Any, y_pred: Any, *, ignore_label: Any = None, noise: str = "cluster") -> dict[str, float]:
    """ACC, NMI and ARI at once."""
    kw = dict(ignore_label=ignore_label, noise=noise)
    return {"acc": clustering_accuracy(y_true, y_pred, **kw), "nmi": nmi(y_true, y_pred, **kw),
            "ari": ari(y_true, y_pred, **kw)}


# -- internal indices ---------------------------------------------------------------

#: names of the internal indices, in the order the knowledge base stores them
INDEX_NAMES = ("silhouette", "calinski_harabasz", "davies_bouldin", "n_clusters", "noise_share")


def internal_indices(X: np.ndarray, labels: Any, *, sample_size: int = 2000, seed: int = 0) -> dict[str, float]:
    """Label-free quality indices of a clustering, on at most ``sample_size`` rows.

    Noise rows (-1) are left out of silhouette, Calinski-Harabasz and Davies-Bouldin;
    when fewer than two clusters remain, those three take their worst values
    (silhouette -1, Calinski-Harabasz 0, Davies-Bouldin 10), never NaN.
    """
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    labels = np.asarray(labels)
    n = labels.shape[0]
    clustered = labels >= 0
    k = int(np.unique(labels[clustered]).size)
    out = {"silhouette": -1.0, "calinski_harabasz": 0.0, "davies_bouldin": 10.0,
           "n_clusters": float(k), "noise_share": float(1.0 - clustered.mean()) if n else 0.0}
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(clustered)
    if idx.size > sample_size:
        idx = np.sort(rng.choice(idx, sample_size, replace=False))
    Xs, ls = X[idx], labels[idx]
    ks = np.unique(ls).size
    if 2 <= ks < len(ls):
        out["silhouette"] = float(silhouette_score(Xs, ls))
        out["calinski_harabasz"] = float(np.log1p(calinski_harabasz_score(Xs, ls)))
        out["davies_bouldin"] = float(min(davies_bouldin_score(Xs, ls), 10.0))
    return {k_: (v if np.isfinite(v) else 0.0) for k_, v in out.items()}
