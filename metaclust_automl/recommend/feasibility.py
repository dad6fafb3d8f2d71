"""Which configurations of a knowledge base may be recommended for a table: their backend is
installed, they ask for fewer clusters than the table has rows, and their cost stays
affordable at its size (a ranking decision, so it lives with the ranking)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..knowledge_base import KnowledgeBase

#: above this many rows, backends whose cost grows faster than n log n and that cannot fit on
#: a sample are not recommended (they would not finish)
QUADRATIC_MAX_ROWS = 20_000


#: the parameters that hold a configuration's number of clusters (gmm calls it n_components)
K_PARAMS = ("n_clusters", "n_components")


def fixed_k(params: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the k that its rule chose in ``resolved`` (a run's resolved parameters)
    fixed, so that the next run does not search k again. Stability re-runs use it (they
    measure the partition under resampling, not the rule's search over 2..20 on every
    subsample), and so does the ranking for a configuration probed on a sample of a bigger
    table: the probe judge judged the partition with that k, so that k is what runs (the
    rule's search on the whole table would look at another 1,000-row sample of it, no better,
    at the cost of a second search: a search over 2..20 fitted mixtures is most of a k-rule
    run). Only k is taken: scale parameters (HDBSCAN's cluster size as a share of the rows)
    must be resolved on the table itself."""
    out = dict(params)
    for key in K_PARAMS:
        if out.get(key) is None and isinstance(resolved.get(key), (int, np.integer)) \
                and not isinstance(resolved[key], bool):
            out[key] = int(resolved[key])
    return out


def n_clusters_param(params: dict[str, Any]) -> int | None:
    for key in K_PARAMS:
        v = params.get(key)
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
    return None


def feasible_mask(kb: KnowledgeBase, n: int | None = None, registry: Any = None) -> np.ndarray:
    """Which configurations can run on a table of ``n`` rows with the installed backends.

    A configuration is skipped when its backend is not installed, when it asks for more
    clusters than the table has rows, or when its cost grows faster than n log n and the
    backend cannot fit on a sample (it would not finish on a big table)."""
    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    ok = np.ones(len(kb.configs), dtype=bool)
    for i, c in enumerate(kb.configs):
        backend = registry.backends.get(c.algorithm)
        if backend is None:
            ok[i] = False
            continue
        if n is None:
            continue
        k = n_clusters_param(c.params)
        if k is not None and k >= n:
            ok[i] = False
        cost = getattr(backend, "cost", "linear")
        if cost in ("quadratic", "cubic") and getattr(backend, "max_fit_rows", None) is None and n > QUADRATIC_MAX_ROWS:
            ok[i] = False
    return ok
