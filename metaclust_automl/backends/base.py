"""The backend protocol: what every clustering algorithm, built-in or plugged in, provides.

A backend declares its name, its parameters (the scale-free ones are searched by
Optuna, so that configurations transfer across tables), its cost class in n, and
``cluster(X, params, seed)``. The base class does the rest the same way for all of
them: validation, preprocessing, fitting on a sample and assigning the remaining
rows when the table is too big for the method (by row count, ``max_fit_rows``, or by a
memory estimate made before an O(n^2) method runs), and normalising labels (noise = -1).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import preprocess
from ..errors import BackendError, ConfigError
from ..params import PREPROCESS, Param, ParamSpace
from ..validation import check_matrix
from .assignment import _ASSIGN_WORDS, gaussian_labels, nearest_centroid_labels, nearest_labels, stratified_pool
from .memory import format_bytes, memory_budget

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
    #: the method's own partition, with its noise, when its noise rows were given their nearest
    #: cluster's label (``backends.noise``); None otherwise
    method_labels: np.ndarray | None = None

    @property
    def noise_assigned(self) -> int:
        """How many noise rows were given their nearest cluster's label."""
        return 0 if self.method_labels is None else int(np.sum(self.method_labels < 0))

    @property
    def partition(self) -> np.ndarray:
        """The method's own labels (noise as -1): what internal indices and stability describe."""
        return self.labels if self.method_labels is None else self.method_labels

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


#: the largest |value| x sqrt(d) a backend accepts: squared distances must stay finite
MAX_MAGNITUDE = 1e150
#: the smallest sample the memory guard will shrink to before giving up
MIN_GUARDED_ROWS = 500



class Backend:
    """Base class of clustering backends. Subclasses set the class attributes and
    implement :meth:`cluster`; plugins do exactly the same."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: how time grows with n: one of COST_CLASSES
    cost: ClassVar[str] = "linear"
    #: above this many rows the method is fitted on a random sample and the other rows
    #: are assigned by ``assign_method``; None means never (but see ``pairwise_bytes``)
    max_fit_rows: ClassVar[int | None] = None
    #: how rows outside the sample get a label: one of ``assignment.ASSIGN_METHODS``
    assign_method: ClassVar[str] = "nearest_row"
    #: sampled rows used to assign the rest by "nearest_row" (bounded: assignment is linear in n)
    assign_pool: ClassVar[int] = 2000
    #: bytes per pair of fitted rows that the method holds at once (a condensed distance
    #: matrix is 4); None: 8 for quadratic and cubic methods, 0 for the others. Used to
    #: fit on a smaller sample rather than run out of memory.
    pairwise_bytes: ClassVar[float | None] = None
    #: whether it can label rows as noise
    finds_noise: ClassVar[bool] = False
    #: other names accepted for a parameter, e.g. ``{"n_clusters": "n_components"}``: the
    #: common name for k across k-based backends (``--set n_clusters=5`` works for all)
    param_aliases: ClassVar[dict[str, str]] = {}
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
        p = dict(params or {})
        for alias, name in self.param_aliases.items():
            if alias in p:
                if name in p:
                    raise ConfigError(f"algorithm {self.name!r}: give {name} or its other name {alias}, not both")
                p[name] = p.pop(alias)
        return self.space.validate(p, owner=f"algorithm {self.name!r}")

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
            "assign_method": self.assign_method,
            "finds_noise": self.finds_noise,
            "parameters": [p.describe() for p in self.space.params],
        }

    # -- memory ------------------------------------------------------------------
    def estimate_memory(self, X: np.ndarray, params: dict[str, Any]) -> int:
        """Bytes of the largest structure the method builds on the rows of ``X`` (the
        data itself not counted). Backends whose need depends on the parameters (DBSCAN's
        neighbourhoods grow with eps) override this; it must be cheap."""
        per_pair = self.pairwise_bytes
        if per_pair is None:
            per_pair = 8.0 if self.cost in ("quadratic", "cubic") else 0.0
        n = X.shape[0]
        return int(per_pair * n * n)

    def _fit_rows_within_budget(self, Xp: np.ndarray, p: dict[str, Any], rows: int,
                                rng: np.random.Generator) -> tuple[int, np.ndarray | None, str]:
        """Shrink the sample until the memory estimate fits the budget (or raise)."""
        n = Xp.shape[0]
        idx = None if rows >= n else np.sort(rng.choice(n, rows, replace=False))
        est = self.estimate_memory(Xp if idx is None else Xp[idx], p)
        budget = memory_budget()
        if est <= budget:
            return rows, idx, ""
        first_rows, first_est = rows, est
        for _ in range(12):
            floor = min(MIN_GUARDED_ROWS, n)
            if rows <= floor:
                raise BackendError(
                    f"algorithm {self.name!r} would need about {format_bytes(first_est)} of memory "
                    f"on {first_rows:,} rows, more than the budget of {format_bytes(budget)}, even on "
                    f"a sample of {rows:,} rows; choose other parameters or raise "
                    f"METACLUST_MEMORY_BUDGET")
            rows = max(floor, min(int(rows * 0.9 * math.sqrt(budget / est)), int(rows * 0.7)))
            idx = np.sort(rng.choice(n, rows, replace=False))
            est = self.estimate_memory(Xp[idx], p)
            if est <= budget:
                note = (f"memory estimate {format_bytes(first_est)} on {first_rows:,} rows exceeds "
                        f"the budget of {format_bytes(budget)} (METACLUST_MEMORY_BUDGET), so a sample "
                        f"of {rows:,} rows was fitted")
                return rows, idx, note
        raise BackendError(f"algorithm {self.name!r} would need about {format_bytes(est)} of memory "
                           f"on {rows:,} rows, more than the budget of {format_bytes(budget)}; "
                           f"choose other parameters or raise METACLUST_MEMORY_BUDGET")

    # -- running ---------------------------------------------------------------
    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        """Cluster the (preprocessed, possibly sampled) rows of ``X``; noise as -1."""
        raise NotImplementedError

    def assign(self, X: np.ndarray, idx: np.ndarray, sample_labels: np.ndarray,
               params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Labels for every row of ``X`` given the labels of the fitted rows ``X[idx]``."""
        sample = X[idx]
        if self.assign_method == "centroid":
            labels = nearest_centroid_labels(X, sample, sample_labels)
        elif self.assign_method == "gaussian":
            labels = gaussian_labels(X, sample, sample_labels,
                                     covariance_type=str(params.get("covariance_type", "full")))
        else:
            pool = stratified_pool(sample_labels, self.assign_pool, rng)
            labels = nearest_labels(X, sample[pool], sample_labels[pool])
        labels[idx] = sample_labels
        return labels

    def run(self, X: Any, params: dict[str, Any] | None = None, seed: int = 0,
            max_fit_rows: int | None = None) -> ClusterRun:
        """Validate, preprocess, fit (on a sample if the table is too big) and label every row.

        A sample is used when the table has more than ``max_fit_rows`` rows (the
        argument, else the class attribute) or when the memory estimate of the method
        exceeds :func:`memory_budget`; ``ClusterRun.notes`` says which and how the
        other rows were labelled."""
        p = self.validate(params)
        X = check_matrix(X)
        if max_fit_rows is not None and max_fit_rows < 1:
            raise ConfigError(f"max_fit_rows must be at least 1, got {max_fit_rows}")
        start = time.perf_counter()
        Xp = preprocess.apply(X, p["preprocess"], seed=seed)
        self._check_magnitude(Xp, p)
        n = Xp.shape[0]
        limit = max_fit_rows if max_fit_rows is not None else self.max_fit_rows
        notes: list[str] = []
        rng = np.random.default_rng(seed)
        rows = n if limit is None else min(n, max(int(limit), 2))
        rows, idx, memory_note = self._fit_rows_within_budget(Xp, p, rows, rng)
        if memory_note:
            notes.append(memory_note)
        if idx is not None:
            Xs = Xp[idx]
            resolved = self.resolve(Xs, p)
            sample_labels = self._call(Xs, p, seed, rows)
            del Xs
            labels = self.assign(Xp, idx, sample_labels, p, rng)
            how = _ASSIGN_WORDS.get(self.assign_method, _ASSIGN_WORDS["nearest_row"])
            why = f" (max_fit_rows={limit:,})" if limit is not None and not memory_note else ""
            notes.append(f"fitted on a random sample of {rows:,} of {n:,} rows{why}; the other "
                         f"rows took {how.format(pool=min(self.assign_pool, rows))}")
            fitted, assigned = int(rows), int(n - rows)
        else:
            resolved = self.resolve(Xp, p)
            labels = self._call(Xp, p, seed, n)
            fitted, assigned = n, 0
        labels = normalise_labels(labels, n, f"algorithm {self.name!r}")
        return ClusterRun(labels=labels, params=p, resolved=resolved,
                          seconds=time.perf_counter() - start,
                          fitted_rows=fitted, assigned_rows=assigned, notes=notes)

    def _check_magnitude(self, Xp: np.ndarray, p: dict[str, Any]) -> None:
        """Refuse values whose squared distances overflow: some libraries then loop for
        ever (HDBSCAN's tree on 1e308 never returned) instead of failing."""
        with np.errstate(over="ignore", invalid="ignore"):
            top = float(np.max(np.abs(Xp))) if Xp.size else 0.0
        if not np.isfinite(top) or top * math.sqrt(Xp.shape[1]) > MAX_MAGNITUDE:
            hint = ("use --set preprocess=standard (or robust, minmax) to rescale it"
                    if p.get("preprocess", "none") == "none" else "rescale the table")
            raise BackendError(f"algorithm {self.name!r}: values as large as {top:.3g} make "
                               f"squared distances overflow; {hint}")

    def _call(self, X: np.ndarray, p: dict[str, Any], seed: int, n: int) -> np.ndarray:
        try:
            labels = self.cluster(X, p, seed)
        except (MemoryError, ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"algorithm {self.name!r} failed on this table: {first}") from exc
        return normalise_labels(labels, n, f"algorithm {self.name!r}")

    def fit_predict(self, X: Any, params: dict[str, Any] | None = None, seed: int = 0) -> np.ndarray:
        """Labels for every row of ``X`` (noise = -1)."""
        return self.run(X, params, seed).labels

    def __repr__(self) -> str:
        return f"<backend {self.name}>"
