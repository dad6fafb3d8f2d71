"""What the selectors learn from, made comparable across tables: robust standardisation,
internal indices on a common scale, numeric descriptors of configurations, and the
performance matrix with failed runs as 0. Free of torch, so that ranking with shipped
weights needs only numpy."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..knowledge_base import KnowledgeBase


@dataclass
class Standardiser:
    """Robust per-column standardisation (median, IQR), clipped so that one odd table
    cannot push a network far outside what it saw in training."""

    center: np.ndarray
    scale: np.ndarray
    clip: float = 5.0

    @classmethod
    def fit(cls, X: np.ndarray, clip: float = 5.0) -> Standardiser:
        X = np.asarray(X, dtype=np.float64).reshape(-1, np.asarray(X).shape[-1])
        q25, med, q75 = np.percentile(X, [25, 50, 75], axis=0)
        scale = (q75 - q25) / 1.349
        std = X.std(axis=0)
        scale = np.where(scale > 1e-9, scale, std)
        scale = np.where(scale > 1e-9, scale, 1.0)
        return cls(center=med, scale=scale, clip=clip)

    def transform(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - self.center) / self.scale
        return np.clip(Z, -self.clip, self.clip)

    def to_dict(self) -> dict[str, Any]:
        return {"center": self.center.tolist(), "scale": self.scale.tolist(), "clip": self.clip}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardiser:
        return cls(center=np.asarray(d["center"], dtype=np.float64),
                   scale=np.asarray(d["scale"], dtype=np.float64), clip=float(d.get("clip", 5.0)))


#: the meta-feature that says a table has categorical (one-hot encoded) columns
ONEHOT_SHARE = "column_types.onehot_share"


def metafeature_scaler(M: np.ndarray, names: list[str], clip: float = 5.0) -> Standardiser:
    """The knn selector's meta-feature scale, measured on the numeric tables of the base.

    Mixed tables are a few per cent of the base but have many binary (one-hot) columns, so
    a scale measured over all tables let them set the spread of features that are mostly
    zero on numeric tables (general.binary_share's spread grew 6x), and the picks on numeric
    tables moved although no mixed table was a neighbour (offline, leave-one-battery-out on
    the dev rows, 366-task base: 0.697 with the all-table scale, 0.712 with this one, as on
    the 353-task base before the mixed tables; corpus leave-one-family-out 0.726 -> 0.729).
    Features constant on the numeric tables (the column-type ones) take the all-table scale."""
    M = np.asarray(M, dtype=np.float64)
    everyone = Standardiser.fit(M, clip=clip)
    if ONEHOT_SHARE not in names:
        return everyone
    numeric = M[:, list(names).index(ONEHOT_SHARE)] == 0
    if numeric.sum() < 2 or numeric.all():
        return everyone
    plain = Standardiser.fit(M[numeric], clip=clip)
    constant = np.ptp(M[numeric], axis=0) < 1e-12
    return Standardiser(center=np.where(constant, everyone.center, plain.center),
                        scale=np.where(constant, everyone.scale, plain.scale), clip=clip)


def index_features(C: np.ndarray) -> np.ndarray:
    """Internal indices made comparable across tables: counts on a log scale, the rest as is.

    ``C[..., I]`` in ``metrics.INDEX_NAMES`` order (silhouette, log Calinski-Harabasz,
    Davies-Bouldin, n_clusters, noise_share); unknown extra indices pass through."""
    C = np.asarray(C, dtype=np.float64).copy()
    if C.shape[-1] >= 4:
        C[..., 3] = np.log1p(np.maximum(C[..., 3], 0.0))
    return np.nan_to_num(C, nan=0.0, posinf=0.0, neginf=0.0)


def index_vector(indices: dict[str, float], names: list[str]) -> np.ndarray:
    """Indices returned by a probe, in the knowledge base's order (missing ones = 0)."""
    return np.array([float(indices.get(n, 0.0)) for n in names], dtype=np.float64)


def config_descriptors(kb: KnowledgeBase) -> tuple[np.ndarray, list[str]]:
    """A numeric description of each configuration, so that models share what they learn
    between configurations of one algorithm (k=5 is near k=6).

    Columns: one-hot algorithm; per (algorithm, numeric parameter) the value (on a log scale
    when it spans more than a factor of 10), standardised over the portfolio (0 = the
    portfolio's average, and for configurations that lack the parameter); per
    (algorithm, categorical parameter, value) a one-hot column. Derived deterministically
    from the configuration list, so it needs no storage."""
    algos = sorted({c.algorithm for c in kb.configs})
    numeric: dict[str, list[tuple[int, float]]] = {}
    categorical: set[str] = set()
    for i, c in enumerate(kb.configs):
        for k, v in c.params.items():
            key = f"{c.algorithm}.{k}"
            if isinstance(v, (bool, str)):
                categorical.add(f"{key}={v}")
            elif isinstance(v, (int, float)) and math.isfinite(float(v)):
                numeric.setdefault(key, []).append((i, float(v)))
    names = [f"algo={a}" for a in algos] + sorted(numeric) + sorted(categorical)
    pos = {n: j for j, n in enumerate(names)}
    D = np.zeros((len(kb.configs), len(names)), dtype=np.float64)
    for i, c in enumerate(kb.configs):
        D[i, pos[f"algo={c.algorithm}"]] = 1.0
        for k, v in c.params.items():
            if isinstance(v, (bool, str)):
                D[i, pos[f"{c.algorithm}.{k}={v}"]] = 1.0
    for key, items in numeric.items():
        rows = np.array([i for i, _ in items])
        vals = np.array([v for _, v in items])
        if np.all(vals > 0) and vals.max() / vals.min() > 10:
            vals = np.log(vals)
        sd = vals.std()
        D[rows, pos[key]] = (vals - vals.mean()) / sd if sd > 1e-12 else 0.0
    return D, names


def performance(kb: KnowledgeBase, metric: str = "ari") -> np.ndarray:
    """P[task, config] with failed runs as 0, clipped to [-1, 1]."""
    return np.clip(kb.performance(metric), -1.0, 1.0)
