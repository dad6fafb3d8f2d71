"""The meta-feature group protocol and the extraction driver."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..validation import check_matrix

DEFAULT_SAMPLE = 2000


@dataclass
class Context:
    """What every group sees: the full table (for single passes) and a bounded sample of it
    (for anything super-linear), both already validated."""

    X: np.ndarray
    sample: np.ndarray
    seed: int


@dataclass(frozen=True)
class MetaFeatureGroup:
    """A named set of meta-features computed by one function.

    ``features`` maps each feature name to a one-line description of what it measures;
    ``compute(ctx)`` returns a value for every name (NaN or inf are replaced by ``fallback``).
    """

    name: str
    features: dict[str, str]
    compute: Callable[[Context], dict[str, float]]
    fallback: float = 0.0

    def feature_names(self) -> list[str]:
        return list(self.features)


def _groups() -> list[MetaFeatureGroup]:
    from ..plugins import get_registry

    return [g for _, g in sorted(get_registry().metafeature_groups.items())]


def feature_names() -> list[str]:
    """Every registered feature name, in extraction order."""
    return [f"{g.name}.{f}" for g in _groups() for f in g.features]


def make_context(X: np.ndarray, sample_size: int = DEFAULT_SAMPLE, seed: int = 0) -> Context:
    X = check_matrix(X, min_rows=1)
    n = X.shape[0]
    # The sample is drawn from the rows sorted by content, so that it does not depend on
    # the order of the rows (meta-features are invariant to row order).
    rng = np.random.default_rng(seed)
    if n > sample_size:
        pick = np.sort(rng.choice(n, sample_size, replace=False))
        order = np.lexsort(X.T[::-1]) if n <= 200_000 else None
        sample = X[order[pick]] if order is not None else X[pick]
    else:
        sample = X
    return Context(X=X, sample=sample, seed=seed)


def extract(X: np.ndarray, *, sample_size: int = DEFAULT_SAMPLE, seed: int = 0) -> dict[str, float]:
    """All meta-features of ``X`` as ``{group.feature: value}``; values are always finite."""
    ctx = make_context(X, sample_size, seed)
    out: dict[str, float] = {}
    for group in _groups():
        values = group.compute(ctx)
        for name in group.features:
            v = float(values.get(name, group.fallback))
            out[f"{group.name}.{name}"] = v if np.isfinite(v) else group.fallback
    return out
