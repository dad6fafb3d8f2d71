"""Scale-free parameters made concrete for one table, the way ``Backend.run`` will make them.

A module of its own (not part of the ranking) so that the guarded worker
(:mod:`metaclust_automl.running.backend_runner`) can run it for a plugin's backend without importing the
ranking that calls the worker.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: parameters are resolved on at most this many rows for backends that would use every row
RESOLVE_ROWS = 100_000


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers and non-finite floats as None (JSON-safe)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())  # a numpy NaN is a non-finite float too
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def resolve_params(backend: Any, X: np.ndarray, params: dict[str, Any], seed: int = 0,
                   cache: dict[Any, np.ndarray] | None = None) -> dict[str, Any]:
    """Concrete parameters of ``backend`` for table ``X`` (on the same sample when the backend
    fits on a sample; on a bounded sample for huge tables). ``cache`` holds the transformed
    table per preprocessing: several configurations share one transform."""
    from .. import preprocess

    p = backend.validate(params)
    n = X.shape[0]
    limit = backend.max_fit_rows if backend.max_fit_rows is not None else RESOLVE_ROWS
    key = (p["preprocess"], seed)
    if cache is None or key not in cache:
        Xp = preprocess.apply(X, p["preprocess"], seed=seed)
        if cache is not None:
            cache[key] = Xp
    else:
        Xp = cache[key]
    if n > limit:
        rng = np.random.default_rng(seed)
        Xp = Xp[np.sort(rng.choice(n, limit, replace=False))]
    resolved = backend.resolve(Xp, p)
    return jsonable({k: v for k, v in resolved.items()})
