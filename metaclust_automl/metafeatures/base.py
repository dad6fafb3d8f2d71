"""The meta-feature group protocol, the shared context, and the extraction driver.

Cost model. The only pass over the whole table is the content hash that draws the
samples (``sampling.py``); everything else runs on bounded samples:

- the *stats sample* (``10 * sample_size`` rows, at most half a million values) feeds
  the linear statistics: moments, correlations, spectra;
- the *sample* (``sample_size`` rows, the first rows of the stats sample) feeds everything
  super-linear: nearest neighbours on at most ``PAIRWISE_MAX`` rows (in blocks, never an
  s x s matrix); the distance distribution and the landmark clusterings on the first
  ``LANDMARK_ROWS`` of them (half a million distances). Wide tables are randomly projected to
  ``PAIRWISE_MAX_DIM`` dimensions before distances are taken.

Both samples are picked by a seeded hash of the row contents, so the meta-features are
deterministic for a seed and do not depend on the order of the rows.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..validation import check_matrix
from .sampling import order_invariant_sample

DEFAULT_SAMPLE = 2000
#: the stats sample holds this many times ``sample_size`` rows ...
STATS_FACTOR = 10
#: ... but no more than this many values (rows x columns)
STATS_MAX_VALUES = 500_000
#: rows used for nearest neighbours, whatever ``sample_size`` says (time: rows**2 distances)
PAIRWISE_MAX = 5000
#: tables wider than this are randomly projected before pairwise distances
PAIRWISE_MAX_DIM = 128
#: rows used by the landmark clusterings and the distance distribution
LANDMARK_ROWS = 1000
#: neighbours kept for the density features
KNN_MAX = 10
#: distances held at once while searching neighbours
KNN_BLOCK_VALUES = 1 << 19


class MetaFeatureWarning(UserWarning):
    """A meta-feature group failed on this table; its features took their fallbacks."""


@dataclass
class ColumnStats:
    """Per-column statistics of the stats sample (population moments)."""

    mean: np.ndarray
    std: np.ndarray
    skew: np.ndarray  #: standardised third moment; 0 for constant columns
    kurt: np.ndarray  #: standardised fourth moment (3 for a normal); 3 for constant columns
    varying: np.ndarray  #: bool: the column is not constant on the stats sample


@dataclass
class Context:
    """What every group sees, with shared intermediate results computed once, on demand.

    ``X`` is the full validated table (use it only for single passes), ``sample`` and
    ``stats_sample`` are the order-invariant samples described in the module docstring.
    Plugin groups should use the cached properties rather than recompute them.
    """

    X: np.ndarray
    sample: np.ndarray
    seed: int
    stats_sample: np.ndarray | None = None
    duplicate_share: float = 0.0

    def __post_init__(self) -> None:
        if self.stats_sample is None:
            self.stats_sample = self.sample

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @cached_property
    def stats(self) -> ColumnStats:
        S = self.stats_sample
        mean = S.mean(axis=0)
        C = S - mean
        # scale by the largest deviation first, so that powers of huge values cannot overflow
        amax = np.abs(C).max(axis=0) if C.shape[0] else np.zeros(C.shape[1])
        C /= np.where(amax > 0, amax, 1.0)
        std = np.sqrt(np.mean(C * C, axis=0)) * amax
        # constant: no spread beyond rounding noise relative to the column's values
        varying = (std > 1e-12 * np.abs(mean)) & (std > 1e-300)
        C /= np.where(varying, std / np.where(amax > 0, amax, 1.0), 1.0)
        C2 = C * C
        skew = np.where(varying, np.mean(C2 * C, axis=0), 0.0)
        kurt = np.where(varying, np.mean(C2 * C2, axis=0), 3.0)
        return ColumnStats(mean=mean, std=std, skew=skew, kurt=kurt, varying=varying)

    @cached_property
    def standardized_stats(self) -> np.ndarray:
        """The stats sample with every column centred and scaled to unit variance
        (constant columns become 0): the scale-free view of the table."""
        st = self.stats
        Z = (self.stats_sample - st.mean) / np.where(st.varying, st.std, 1.0)
        Z[:, ~st.varying] = 0.0
        return Z

    @cached_property
    def Z(self) -> np.ndarray:
        """The pairwise sample, standardised, and projected when the table is wide."""
        st = self.stats
        S = self.sample[:PAIRWISE_MAX]
        Z = (S - st.mean) / np.where(st.varying, st.std, 1.0)
        Z[:, ~st.varying] = 0.0
        if Z.shape[1] > PAIRWISE_MAX_DIM:
            rng = np.random.default_rng([self.seed, 0x70726F6A])
            G = rng.standard_normal((Z.shape[1], PAIRWISE_MAX_DIM)) / np.sqrt(PAIRWISE_MAX_DIM)
            Z = Z @ G
        return np.ascontiguousarray(Z)

    @cached_property
    def distances(self) -> np.ndarray:
        """Condensed Euclidean distances (scipy's pdist layout) between the first
        ``LANDMARK_ROWS`` rows of ``Z``: the rows the distance and landmark features use."""
        from scipy.spatial.distance import pdist

        Zl = self.Z[:LANDMARK_ROWS]
        return pdist(Zl) if Zl.shape[0] >= 2 else np.zeros(0)

    @cached_property
    def D(self) -> np.ndarray:
        """Square form of ``distances`` (zero diagonal; ``min(LANDMARK_ROWS, s)`` rows)."""
        from scipy.spatial.distance import squareform

        m = min(LANDMARK_ROWS, self.Z.shape[0])
        return squareform(self.distances) if m >= 2 else np.zeros((m, m))

    @cached_property
    def median_distance(self) -> float:
        """Median of ``distances`` (0 when there are none)."""
        return float(np.median(self.distances)) if self.distances.size else 0.0

    @cached_property
    def knn(self) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of each row's ``min(KNN_MAX, s - 1)`` nearest other rows
        of ``Z``, nearest first (shape s x k; k may be 0).

        Candidates come from BLAS products in blocks (no s x s matrix is held); the k
        distances kept are then recomputed exactly, so identical rows are at distance 0.
        """
        Z = self.Z
        s = Z.shape[0]
        k = min(KNN_MAX, s - 1)
        if k <= 0:
            return np.zeros((s, 0)), np.zeros((s, 0), dtype=np.int64)
        sq = np.einsum("ij,ij->i", Z, Z)
        idx = np.empty((s, k), dtype=np.int64)
        step = max(1, KNN_BLOCK_VALUES // s)
        for start in range(0, s, step):
            stop = min(s, start + step)
            block = Z[start:stop] @ Z.T
            block *= -2.0
            block += sq[None, :]  # + sq[start:stop, None] would not change the order in a row
            rows = np.arange(stop - start)
            block[rows, rows + start] = np.inf  # a row is not its own neighbour
            idx[start:stop] = np.argpartition(block, k - 1, axis=1)[:, :k]
        diff = Z[idx] - Z[:, None, :]
        dist = np.sqrt(np.einsum("ikj,ikj->ik", diff, diff))
        order = np.argsort(dist, axis=1, kind="stable")
        return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)


@dataclass(frozen=True)
class MetaFeatureGroup:
    """A named set of meta-features computed by one function.

    ``features`` maps each feature name to a one-line description of what it measures;
    ``compute(ctx)`` returns a value for every name. A value that is missing, NaN or
    infinite is replaced by ``fallbacks[name]`` if given, else by ``fallback``; a group
    whose ``compute`` raises gets its fallbacks for every feature, with a warning.
    """

    name: str
    features: dict[str, str]
    compute: Callable[[Context], dict[str, float]]
    fallback: float = 0.0
    fallbacks: dict[str, float] = field(default_factory=dict)

    def feature_names(self) -> list[str]:
        return list(self.features)

    def fallback_for(self, feature: str) -> float:
        return float(self.fallbacks.get(feature, self.fallback))


def _groups() -> list[MetaFeatureGroup]:
    from ..plugins import get_registry

    return [g for _, g in sorted(get_registry().metafeature_groups.items())]


def feature_names() -> list[str]:
    """Every registered feature name, in extraction order."""
    return [f"{g.name}.{f}" for g in _groups() for f in g.features]


def describe() -> dict[str, dict[str, str | float]]:
    """``{group.feature: {"group", "feature", "description", "fallback"}}`` in extraction order."""
    return {f"{g.name}.{f}": {"group": g.name, "feature": f, "description": doc,
                              "fallback": g.fallback_for(f)}
            for g in _groups() for f, doc in g.features.items()}


def stats_sample_size(sample_size: int, d: int) -> int:
    """Rows in the stats sample: ``STATS_FACTOR * sample_size`` within ``STATS_MAX_VALUES``."""
    return int(max(sample_size, min(STATS_FACTOR * sample_size, STATS_MAX_VALUES // max(d, 1))))


def _validated(X: np.ndarray) -> np.ndarray:
    """``check_matrix(X, min_rows=1)``, with a fast path for float64 C-contiguous input: one
    sum tells that every value is finite (NaN and inf survive a sum; an overflow to inf
    merely sends the table down the slow, exact path)."""
    if (isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2 and X.flags.c_contiguous
            and X.shape[0] >= 1 and X.shape[1] >= 1):
        with np.errstate(all="ignore"):
            if np.isfinite(X.sum()):
                return X
    return check_matrix(X, min_rows=1)


def make_context(X: np.ndarray, sample_size: int = DEFAULT_SAMPLE, seed: int = 0) -> Context:
    """Validate ``X`` and draw its order-invariant samples (one pass over the table)."""
    from ..errors import ConfigError

    if int(sample_size) < 1:
        raise ConfigError(f"sample_size must be at least 1, got {sample_size}")
    sample_size = int(sample_size)
    X = _validated(X)
    picked = order_invariant_sample(X, stats_sample_size(sample_size, X.shape[1]), seed)
    stats_sample = X[picked.index]
    return Context(X=X, sample=stats_sample[:sample_size], seed=int(seed),
                   stats_sample=stats_sample, duplicate_share=picked.duplicate_share)


def extract(X: np.ndarray, *, sample_size: int = DEFAULT_SAMPLE, seed: int = 0) -> dict[str, float]:
    """All meta-features of ``X`` as ``{group.feature: value}``; values are always finite.

    Deterministic for a seed and invariant to the order of the rows; every super-linear
    step runs on at most ``sample_size`` rows (see the module docstring for the bounds).
    """
    from ..metrics import single_threaded_blas

    ctx = make_context(X, sample_size, seed)
    with single_threaded_blas():
        return _extract(ctx)


#: contexts being extracted, by token: a forked guard worker inherits them
_CONTEXTS: dict[int, Context] = {}


def _is_plugin_group(name: str) -> bool:
    from ..plugins import BUILTIN, get_registry

    return get_registry().source("metafeatures", name) != BUILTIN


def _fork_available() -> bool:
    from ..running.worker import _context

    return _context().get_start_method() == "fork"


def _fell_back(group: MetaFeatureGroup, why: str) -> dict[str, float]:
    warnings.warn(f"meta-feature group {group.name!r} failed on this table and took its "
                  f"fallback values: {why}", MetaFeatureWarning, stacklevel=3)
    return {}


def _guarded_values(groups: list[MetaFeatureGroup], ctx: Context) -> dict[str, dict[str, float]]:
    """The values of plugins' groups, each computed in a guarded worker that inherits ``ctx``
    (fork: no copy) and stopped after the command's ``--time-limit``: a plugin's group that
    hangs, crashes or calls ``sys.exit`` costs its fallback values, never the command."""
    from ..running.worker import Guard, plugin_time_limit

    token = id(ctx)
    _CONTEXTS[token] = ctx
    out: dict[str, dict[str, float]] = {}
    try:
        with Guard(plugin_time_limit()) as guard:
            for group in groups:
                outcome = guard.call("metaclust_automl.metafeatures.base:group_job",
                                     {"group": group.name, "token": token})
                values = outcome.result.get("values") if outcome.ok else None
                out[group.name] = (values if isinstance(values, dict) else
                                   _fell_back(group, outcome.error or "it returned no values"))
    finally:
        _CONTEXTS.pop(token, None)
    return out


def group_job(arrays: dict[str, np.ndarray], group: str, token: int) -> tuple[dict, dict]:
    """Guarded job: one registered group's values on the inherited context."""
    from ..plugins import get_registry

    values = get_registry().metafeature_groups[group].compute(_CONTEXTS[int(token)])
    if not isinstance(values, dict):
        raise TypeError(f"compute returned {type(values).__name__}, not a dict")
    return {"values": {str(k): _as_float(v) for k, v in values.items()}}, {}


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _extract(ctx: Context) -> dict[str, float]:
    out: dict[str, float] = {}
    groups = _groups()
    guarded = [g for g in groups if _is_plugin_group(g.name)] if _fork_available() else []
    plugin_values = _guarded_values(guarded, ctx) if guarded else {}
    for group in groups:
        if group.name in plugin_values:
            values = plugin_values[group.name]
        else:
            try:
                values = group.compute(ctx)
            except Exception as exc:  # noqa: BLE001 - a plugin group may raise anything
                values = _fell_back(group, f"{type(exc).__name__}: {exc}")
            if not isinstance(values, dict):
                values = _fell_back(group, "it returned no values")
        for name in group.features:
            try:
                v = float(values.get(name, np.nan))
            except (TypeError, ValueError):
                v = np.nan
            out[f"{group.name}.{name}"] = v if np.isfinite(v) else group.fallback_for(name)
    return out
