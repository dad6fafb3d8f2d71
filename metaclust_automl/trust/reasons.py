"""A reason specific to the table: which knowledge-base tasks and which meta-features
stand behind a recommended configuration.

The nearest knowledge-base tasks (standardised meta-feature distance, as the confidence's
neighbour ARI uses) and what this configuration scored on them say what the choice rests
on; the meta-features on which the table lies furthest from the knowledge base's typical
task (largest |z|) are those that weigh most in that distance, so they are what set the
table's neighbours, and so the choice.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .confidence import neighbour_ari

#: neighbours and meta-features named in a reason
NAMED_TASKS = 2
NAMED_FEATURES = 2


def _short(task: Any) -> str:
    """A task's id without the corpus prefix, short enough for a table cell."""
    parts = str(task.id).split("/")
    return "/".join(parts[1:3]) if len(parts) > 2 else str(task.id)


def describe_choice(kb: Any, metafeatures: np.ndarray, config_index: int) -> str:
    """One clause: the nearest known tables with this configuration's ARI on them, and the
    meta-features where the table stands out."""
    _, nn = neighbour_ari(kb, metafeatures, config_index)
    P = kb.performance("ari")
    tasks = ", ".join(f"{_short(kb.tasks[t])} (ARI {P[t, config_index]:.2f})" for t in nn[:NAMED_TASKS])
    M = np.asarray(kb.M, dtype=np.float64)
    sd = M.std(axis=0)
    z = np.where(sd > 0, (np.asarray(metafeatures) - np.median(M, axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    top = np.argsort(-np.abs(z), kind="stable")[:NAMED_FEATURES]
    feats = ", ".join(f"{'high' if z[j] > 0 else 'low'} {kb.metafeature_names[j]}" for j in top)
    return f"nearest known tables: {tasks}; set by its {feats}"
