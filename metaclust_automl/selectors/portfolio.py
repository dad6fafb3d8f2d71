"""A robust sub-portfolio: the few configurations that, together, cover the knowledge base's tasks.

The shipped portfolio holds many near-duplicates (28 of 69 configurations are HDBSCAN with
slightly different sizes); between two of them a nearest-neighbour average mostly picks
noise, and a configuration that was best on a handful of similar tasks can look best on a
new table for the wrong reasons. Restricting the first choices to a set chosen by greedy
coverage (each step adds the configuration that most raises the mean, over the tasks, of
the best ARI reachable within the set) keeps, per kind of table, the configuration that is
good on many of them. The others stay available behind it, as fallbacks.

The size (20) and the restriction itself were chosen leave-one-family-out over the
corpus tasks of the knowledge base and leave-one-battery-out over the dev tasks
(``bench/selection_cv.py``, ``bench/results/selection_cv.json``).
"""
from __future__ import annotations

import numpy as np


def greedy_cover(P: np.ndarray, size: int) -> np.ndarray:
    """Indices of ``size`` configurations (columns of ``P`` [tasks, configs]) chosen by greedy
    coverage, in the order they were added. ``size`` <= 0 or >= the number of columns: all,
    in column order. Deterministic (ties go to the lower index)."""
    P = np.asarray(P, dtype=np.float64)
    K = P.shape[1]
    if size <= 0 or size >= K or P.shape[0] == 0:
        return np.arange(K)
    chosen: list[int] = []
    best = np.full(P.shape[0], -np.inf)
    for _ in range(int(size)):
        gain = np.maximum(P, best[:, None]).mean(axis=0)
        gain[chosen] = -np.inf
        c = int(np.argmax(gain))
        chosen.append(c)
        best = np.maximum(best, P[:, c])
    return np.array(chosen, dtype=int)


def portfolio_mask(P: np.ndarray, size: int) -> np.ndarray:
    """Boolean mask [configs] of :func:`greedy_cover`'s choice."""
    mask = np.zeros(np.asarray(P).shape[1], dtype=bool)
    mask[greedy_cover(P, size)] = True
    return mask


def share_of_best(P: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Each task's row divided by its best score (floored at ``floor``): a task where nothing
    scores well weighs as much in a neighbour average as one where everything does."""
    P = np.asarray(P, dtype=np.float64)
    return P / np.maximum(P.max(axis=1, keepdims=True), floor)
