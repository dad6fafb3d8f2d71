"""Few-label evidence for selectors that do not learn from labels themselves: run the best
few configurations, score them on the known labels, and move their predicted scores
towards what was observed."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..knowledge_base import KnowledgeBase


#: labelled rows at which observed ARI and predicted quality weigh the same
LABEL_TRUST = 20.0


def score_on_labels(query: Any, kb: KnowledgeBase, scores: np.ndarray, allowed: np.ndarray, top: int = 8
                    ) -> tuple[list[int], np.ndarray, int] | None:
    """Few-shot evidence: run the ``top`` best-scored configurations (and the best of every
    algorithm) through ``query.run`` and score them on the known labels. Returns (configs,
    their ARI on the known rows, number of known rows), or None without labels."""
    from ..errors import ConfigError, DataError
    from ..metrics import ari

    if query.labels is None:
        return None
    labels = np.asarray(query.labels)
    known = labels >= 0
    m = int(known.sum())
    if m == 0:
        return None
    if np.unique(labels[known]).size < 2:
        raise DataError("the known labels hold a single class; give labelled rows of at least two clusters")
    if query.run is None:
        raise ConfigError("few-label adaptation needs to run configurations on the table; "
                          "this caller gave the selector no runner")
    order = [int(c) for c in np.argsort(-scores, kind="stable") if allowed[c]]
    cols = order[:top]
    for alg in sorted({c.algorithm for c in kb.configs}):
        best = next((c for c in order if kb.configs[c].algorithm == alg), None)
        if best is not None and best not in cols:
            cols.append(best)
    observed = np.array([ari(labels[known], query.run(c)[known]) for c in cols])
    return cols, observed, m


def blend_observed(scores: np.ndarray, cols: list[int], observed: np.ndarray, m: int) -> np.ndarray:
    """Scores of the configurations that were scored on labels move towards what was observed,
    the more so the more labels there were (m / (m + LABEL_TRUST))."""
    out = np.array(scores, dtype=np.float64, copy=True)
    w = m / (m + LABEL_TRUST)
    out[cols] = w * observed + (1 - w) * out[cols]
    return out
