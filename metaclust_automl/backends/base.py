"""The backend protocol: what every clustering algorithm, built-in or plugged in, provides.

A backend declares its name, its parameters (the scale-free ones are searched by
Optuna, so that configurations transfer across tables), its cost class in n, and
``cluster(X, params, seed)``. The base class does the rest the same way for all of
them: validation, preprocessing, fitting on a sample and assigning the remaining
rows when the table is too big for the method, and normalising labels (noise = -1).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import preprocess
from ..errors import BackendError
from ..params import PREPROCESS, Param, ParamSpace
from ..validation import check_matrix

#: Cost classes in n, cheapest first. Callers skip what cannot run at a given size.
COST_CLASSES = ("linear", "nlogn", "quadratic", "cubic")


@dataclass
class ClusterRun:
    """The outcome of one backend run on one table."""

    labels: np.ndarray
    params: dict[str, Any]
    resolved: dict[str, Any]
    seconds: float
    fitted_rows: int
    assigned_rows: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return int(np.unique(self.labels[self.labels >= 0]).size)

    @property
    def noise_share(self) -> float:
        return float(np.mean(self.labels < 0)) if self.labels.size else 0.0


def normalise_labels(labels: Any, n: int, owner: str) -> np.ndarray:
    """Labels as int64 in 0..k-1 by order of first appearance; every negative value is noise (-1)."""
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise BackendError(f"{owner} returned {arr.shape} labels for {n} rows")
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise BackendError(f"{owner} returned non-integer labels")
    arr = arr.astype(np.int64)
    out = np.full(n, -1, dtype=np.int64)
    keep = arr >= 0
    if keep.any():
        _, first, inverse = np.unique(arr[keep], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))  # rank clusters by first appearance
        out[keep] = order[inverse]
    return out


def nearest_labels(X: np.ndarray, ref: np.ndarray, ref_labels: np.ndarray,
                   chunk: int = 50_000) -> np.ndarray:
    """Label of each row's nearest reference row (squared Euclidean, chunked: memory flat in n)."""
    ref_sq = np.einsum("ij,ij->i", ref, ref)
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], chunk):
        block = X[start:start + chunk]
        d2 = ref_sq[None, :] - 2.0 * block @ ref.T
        out[start:start + chunk] = ref_labels[np.argmin(d2, axis=1)]
    return out


class Backend:
    """Base class of clustering backends. Subclasses set the class attributes and
    implement :meth:`cluster`; plugins do exactly the same."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: how time grows with n: one of COST_CLASSES
    cost: ClassVar[str] = "linear"
    #: above this many rows the method is fitted on a random sample and the other rows
    #: are given the label of their nearest sampled row; None means never
    max_fit_rows: ClassVar[int | None] = None
    #: rows used to assign the rest (bounded, so assignment is linear in n)
    assign_pool: ClassVar[int] = 4000
    #: whether it can label rows as noise
    finds_noise: ClassVar[bool] = False
    #: whether it needs torch (imported only when the backend runs)
    uses_torch: ClassVar[bool] = False
    #: the backend's own parameters; ``preprocess`` is added to every backend
    params: ClassVar[tuple[Param, ...]] = ()
    exclusive: ClassVar[tuple[tuple[str, str], ...]] = ()

    # -- the parameter space -------------------------------------------------
    @property
    def space(self) -> ParamSpace:
        return ParamSpace((*self.params, PREPROCESS), self.exclusive)

    def validate(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Complete and check a parameter dict (raises ConfigError)."""
        return self.space.validate(dict(params or {}), owner=f"algorithm {self.name!r}")

    def search_space(self, trial: Any) -> dict[str, Any]:
        """Optuna search space: one scale-free configuration drawn from ``trial``."""
        return self.space.suggest(trial)

    def resolve(self, X: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
        """Concrete parameter values for this table (eps in data units, sizes in rows).

        The default resolves nothing; backends with scale-free parameters override it."""
        return {k: v for k, v in params.items() if v is not None}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "cost": self.cost,
            "max_fit_rows": self.max_fit_rows,
            "finds_noise": self.finds_noise,
            "parameters": [p.describe() for p in self.space.params],
        }

    # -- running ---------------------------------------------------------------
    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        """Cluster the (preprocessed, possibly sampled) rows of ``X``; noise as -1."""
        raise NotImplementedError

    def run(self, X: Any, params: dict[str, Any] | None = None, seed: int = 0,
            max_fit_rows: int | None = None) -> ClusterRun:
        """Validate, preprocess, fit (on a sample if the table is too big) and label every row."""
        p = self.validate(params)
        X = check_matrix(X)
        start = time.perf_counter()
        Xp = preprocess.apply(X, p["preprocess"], seed=seed)
        n = Xp.shape[0]
        limit = max_fit_rows if max_fit_rows is not None else self.max_fit_rows
        notes: list[str] = []
        rng = np.random.default_rng(seed)
        if limit is not None and n > limit:
            idx = np.sort(rng.choice(n, limit, replace=False))
            resolved = self.resolve(Xp[idx], p)
            sample_labels = self._call(Xp[idx], p, seed, idx.size)
            pool = idx.size if idx.size <= self.assign_pool else self.assign_pool
            pool_idx = rng.choice(idx.size, pool, replace=False)
            labels = nearest_labels(Xp, Xp[idx][pool_idx], sample_labels[pool_idx])
            labels[idx] = sample_labels
            notes.append(f"fitted on a random sample of {limit} of {n} rows; "
                         f"the other rows took the label of their nearest sampled row")
            fitted, assigned = int(limit), int(n - limit)
        else:
            resolved = self.resolve(Xp, p)
            labels = self._call(Xp, p, seed, n)
            fitted, assigned = n, 0
        labels = normalise_labels(labels, n, f"algorithm {self.name!r}")
        return ClusterRun(labels=labels, params=p, resolved=resolved,
                          seconds=time.perf_counter() - start,
                          fitted_rows=fitted, assigned_rows=assigned, notes=notes)

    def _call(self, X: np.ndarray, p: dict[str, Any], seed: int, n: int) -> np.ndarray:
        try:
            labels = self.cluster(X, p, seed)
        except (MemoryError, ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            raise BackendError(f"algorithm {self.name!r} failed on this table: {exc}") from exc
        return normalise_labels(labels, n, f"algorithm {self.name!r}")

    def fit_predict(self, X: Any, params: dict[str, Any] | None = None, seed: int = 0) -> np.ndarray:
        """Labels for every row of ``X`` (noise = -1)."""
        return self.run(X, params, seed).labels

    def __repr__(self) -> str:
        return f"<backend {self.name}>"
