"""Rows a density method left as noise, labelled with their nearest cluster (``noise="assign"``).

DBSCAN, HDBSCAN and OPTICS leave the rows they cannot place as noise (-1). Someone who asks
which group each row belongs to is then told "none" for 5-25% of the rows of an ordinary
table of blobs, and every reference score counts those rows as one more cluster. Giving each
noise row the label of its nearest clustered row, in the space the method clustered in (after
its ``preprocess``), is what genieclust's ``postprocess="all"`` does for Genie's noise
points. It was chosen on the knowledge base's corpus cells (every dbscan and hdbscan
configuration on each of the 320 corpus tasks, 1,500-row samples: mean ARI 0.494 kept, 0.538
assigned; 5,684 cells better, 1,586 worse), and through the selector leave-one-family-out
(README, "How well it works"). ``noise="keep"`` writes them as -1, as the libraries do.

The knowledge base scores what is delivered: its meta-training runs assign noise the same way
before they are scored (``training.kb.tasks.evaluate_job``), while the internal indices and
the probes still describe the method's own partition (its noise share is a signal).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import ConfigError

#: what a run does with its noise rows: label them with the nearest cluster, or keep -1
NOISE_POLICIES = ("assign", "keep")
DEFAULT_NOISE = "assign"
#: at most this many clustered rows (every cluster represented) are the candidates for a
#: noise row's nearest one, so that the cost stays linear in the table's rows
REFERENCE_ROWS = 5000


def check_policy(policy: str) -> str:
    if policy not in NOISE_POLICIES:
        raise ConfigError(f"noise must be one of {', '.join(NOISE_POLICIES)}, got {policy!r}")
    return policy


def assign_noise(X: np.ndarray, labels: np.ndarray, preprocess: str = "none", seed: int = 0) -> np.ndarray:
    """``labels`` with every noise row (-1) given the label of its nearest clustered row, in
    the table's ``preprocess`` space; unchanged when there is no noise or no cluster."""
    from .. import preprocess as prep
    from .assignment import nearest_labels, stratified_pool

    labels = np.asarray(labels, dtype=np.int64)
    noise = labels < 0
    if not noise.any() or noise.all():
        return labels
    Xp = prep.apply(np.asarray(X, dtype=np.float64), preprocess, seed=seed)
    clustered = np.flatnonzero(~noise)
    if clustered.size > REFERENCE_ROWS:
        clustered = clustered[stratified_pool(labels[clustered], REFERENCE_ROWS, np.random.default_rng(seed))]
    out = labels.copy()
    out[noise] = nearest_labels(Xp[noise], Xp[clustered], labels[clustered])
    return out


def apply_policy(run: Any, X: np.ndarray, policy: str = DEFAULT_NOISE, seed: int = 0) -> Any:
    """The ``ClusterRun`` as delivered under ``policy``: with ``"assign"``, a copy whose noise
    rows carry their nearest cluster's label, ``method_labels`` the partition it ran from and a note
    saying so; the run itself otherwise (or when it has no noise to assign)."""
    check_policy(policy)
    noise = int(np.sum(run.labels < 0))
    if policy == "keep" or noise == 0 or noise == run.labels.size:
        return run
    labels = assign_noise(X, run.labels, str(run.params.get("preprocess", "none")), seed)
    note = (f"{noise:,} rows the method left as noise took the label of their nearest clustered row "
            "(--noise keep writes them as -1)")
    return replace(run, labels=labels, method_labels=run.labels, notes=[*run.notes, note])
