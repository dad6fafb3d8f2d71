"""The trust steps wired into a recommendation: the answer for a structureless table, and
the confidence of the partition a ``Recommender`` chose (kept here so that the CLI and the
recommender need only one call each)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .structure import StructureVerdict


def no_structure_run(n: int, verdict: StructureVerdict) -> Any:
    """The partition of a table without cluster structure: every row in cluster 0."""
    from ..backends.base import ClusterRun

    return ClusterRun(labels=np.zeros(n, dtype=np.int64), params={}, resolved={}, seconds=0.0,
                      fitted_rows=n, notes=[verdict.message])


def recommendation_confidence(recommender: Any, X: np.ndarray, rec: Any, run: Any, seed: int = 0) -> Any:
    """The ``Confidence`` of ``run``, made by recommendation ``rec`` of ``recommender``."""
    from .confidence import partition_confidence

    kb = recommender.kb
    c = kb.config_index(rec.config_id)
    session = getattr(recommender, "session", None)
    mf = getattr(session, "metafeatures", None)
    if mf is None:
        from ..metafeatures import extract
        from ..recommend.ranking import metafeature_vector

        mf = metafeature_vector(kb, extract(X, seed=seed))[0]

    from ..recommend.feasibility import fixed_k

    params = fixed_k(rec.params, run.resolved)

    def run_rows(rows: np.ndarray, s: int) -> np.ndarray:
        return recommender.runner.run(rec.algorithm, X, params, seed=s, rows=rows).labels

    # the method's own partition (noise as -1), as the knowledge base's indices describe it;
    # its stability measured on it too (re-runs of the delivered labels, noise assigned alike,
    # ranked the dev datasets worse: Spearman 0.607 against 0.673, bench/trust.py)
    try:
        return partition_confidence(X, run.partition, kb, mf, c, run_rows, seed=seed)
    finally:
        recommender.runner.release()
