"""The probe judge: which of the selector's first few candidates to run, once each has run on a sample.

The selector ranks from meta-features alone; its first choice is right on most tables, but
the best of its first three is worth +0.05 to +0.06 mean ARI (issue 16). Each candidate's
internal indices, read alone, cannot tell them apart (``validity.py``: no blend of them won).
What they lack is context: how a candidate compares with the *other* candidates on the same
rows. Here each candidate of a probe set is described relative to the set: its selector
score and rank, its agreement (ARI) with the other candidates' partitions, and its internal
indices minus the set's best and worst; a ridge regression learned from the knowledge base's
tasks predicts each candidate's ARI relative to the set's mean, and the judge ranks by it.

Its training rows (``data/judge/rows.json``, built by ``metaclust train judge``) hold, for
every knowledge-base task, the first five candidates of the knn selector fitted *without that
task's family or battery*, run on the same probe sample the CLI uses: their scores, indices,
pairwise agreement and stored ARIs. The judge is fitted from them in milliseconds when first
needed, on the rows of the tasks the knowledge base holds (so a knowledge base without a
battery gets a judge that never saw it: ``bench/quality.py``'s leave-one-battery-out runs are
held out end to end), or on all rows for a knowledge base built elsewhere. One model serves
every budget from 2 to 5 (fitted on the rows' first 2, 3, 4 and 5 candidates pooled).

Chosen leave-one-family-out over the corpus and leave-one-battery-out over the dev tasks
(``bench/judge_cv.py``): pooled ridge, alpha 30; see that bench for the numbers.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError
from ..paths import data_path

#: the internal indices a candidate is described by (``metrics.INDEX_NAMES`` names)
INDEX_NAMES = ("silhouette", "calinski_harabasz", "davies_bouldin", "n_clusters", "noise_share", "dbcv")
#: candidates a training row holds, and so the largest probe set the judge was fitted on
MAX_CANDIDATES = 5
#: a judge needs at least two candidates to compare
MIN_CANDIDATES = 2
DEFAULT_ALPHA = 30.0
#: configurations run on the probe sample and judged before choosing, unless told otherwise
#: (``metaclust cluster``, ``recommend``, ``evaluate``, ``MetaClusterer``): chosen by
#: bench/judge_cv.py (the judge over the first 2-5 candidates: 5 won on both held-out
#: measures) and measured through the CLI by bench/quality.py. Here, not in the ranking, so
#: that the CLI can show it without importing the ranking.
DEFAULT_BUDGET = 5
#: fewer shared tasks than this: the knowledge base was built elsewhere; fit on every row
MIN_SHARED_TASKS = 30
ROWS_FORMAT = "metaclust-judge-rows"


def rows_path() -> Path:
    return data_path("judge", "rows.json")


def agreement(labels: Sequence[np.ndarray | None]) -> np.ndarray:
    """Pairwise ARI [m, m] of the candidates' partitions of the same rows (0 where one failed)."""
    from sklearn.metrics import adjusted_rand_score

    m = len(labels)
    A = np.eye(m)
    for i in range(m):
        for j in range(i + 1, m):
            if labels[i] is not None and labels[j] is not None:
                A[i, j] = A[j, i] = float(adjusted_rand_score(labels[i], labels[j]))
            else:
                A[i, j] = A[j, i] = 0.0
    return A


def candidate_features(scores: Sequence[float], indices: Sequence[Mapping[str, float]],
                       agree: np.ndarray) -> np.ndarray:
    """Features [m, 24] of m >= 2 candidates, in the selector's order: score minus the best
    score, score, rank, mean / max agreement with the others, agreement with the first, and
    the six indices (log number of clusters) raw, minus the set's best and minus its worst."""
    m = len(scores)
    if m < MIN_CANDIDATES or len(indices) != m or np.shape(agree) != (m, m):
        raise ValueError(f"a probe set needs >= {MIN_CANDIDATES} candidates with indices and agreement")
    k = np.asarray(scores, dtype=np.float64)
    idx = np.array([[float(ix.get(n, 0.0)) for n in INDEX_NAMES] for ix in indices])
    idx[:, 3] = np.log1p(np.maximum(idx[:, 3], 0.0))
    A = np.asarray(agree, dtype=np.float64)
    off = ~np.eye(m, dtype=bool)
    first = A[:, 0].copy()
    first[0] = 1.0
    rows = np.column_stack([k - k.max(), k, np.arange(m, dtype=np.float64), (A * off).sum(1) / (m - 1),
                            np.where(off, A, -np.inf).max(1), first, idx, idx - idx.max(0), idx - idx.min(0)])
    return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class Judge:
    """A ridge regression on standardised candidate features; higher = better candidate."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    intercept: float
    sets: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, features: Sequence[np.ndarray], targets: Sequence[np.ndarray], *,
            alpha: float = DEFAULT_ALPHA) -> Judge:
        """Fit on probe sets: ``features[s]`` [m_s, F] and ``targets[s]`` [m_s] (their ARIs;
        each set's mean is taken off, so what is learned is who is better within a set)."""
        X = np.vstack(features)
        y = np.concatenate([np.asarray(t, dtype=np.float64) - float(np.mean(t)) for t in targets])
        mean, scale = X.mean(0), X.std(0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        Z = (X - mean) / scale
        w = np.linalg.solve(Z.T @ Z + float(alpha) * np.eye(Z.shape[1]), Z.T @ (y - y.mean()))
        return cls(mean, scale, w, float(y.mean()), sets=len(features), info={"alpha": float(alpha)})

    def predict(self, F: np.ndarray) -> np.ndarray:
        return ((np.asarray(F, dtype=np.float64) - self.mean) / self.scale) @ self.weights + self.intercept

    def order(self, F: np.ndarray, indices: Sequence[Mapping[str, float]] | None = None) -> list[int]:
        """Candidates best first (ties: the selector's order). With their ``indices``, a
        candidate that found fewer than two clusters (or failed) ranks behind every one that
        found some: whether the table has structure at all is the structure test's verdict,
        not a probe's (a linear judge cannot learn that one cluster is a different kind of
        answer)."""
        p = self.predict(F)
        flat = np.zeros(p.size, dtype=bool) if indices is None else \
            np.array([float(ix.get("n_clusters", 0.0)) < 2 for ix in indices])
        return [int(i) for i in np.lexsort((np.arange(p.size), -p, flat))]


# -- training rows -------------------------------------------------------------------------
def probe_sets(rows: dict[str, Any], task_ids: Sequence[str] | None = None,
               sizes: Sequence[int] = (2, 3, 4, 5)) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(features, targets) of the rows' probe sets, the first ``b`` candidates of each task for
    every b in ``sizes``; only the tasks ``task_ids`` when given."""
    keep = None if task_ids is None else set(task_ids)
    feats, targets = [], []
    for r in rows["tasks"]:
        if keep is not None and r["id"] not in keep:
            continue
        m = len(r["scores"])
        for b in sizes:
            if b > m:
                continue
            A = np.asarray(r["agree"], dtype=np.float64)[:b, :b]
            feats.append(candidate_features(r["scores"][:b], r["indices"][:b], A))
            targets.append(np.asarray(r["ari"][:b], dtype=np.float64))
    return feats, targets


def read_rows(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The judge's training rows (plain JSON, checked); KnowledgeBaseError when damaged."""
    from ..plainjson import read_json

    p = Path(path) if path is not None else rows_path()
    data = read_json(p, KnowledgeBaseError)
    if not isinstance(data, dict) or data.get("format") != ROWS_FORMAT or not isinstance(data.get("tasks"), list):
        raise KnowledgeBaseError(f"{p} is not a metaclust judge-rows file")
    for r in data["tasks"]:
        try:
            m = len(r["scores"])
            ok = (isinstance(r["id"], str) and MIN_CANDIDATES <= m <= MAX_CANDIDATES and len(r["ari"]) == m
                  and len(r["indices"]) == m and np.shape(r["agree"]) == (m, m)
                  and np.isfinite(np.asarray(r["scores"] + r["ari"], dtype=np.float64)).all())
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise KnowledgeBaseError(f"{p}: a damaged row ({str(r)[:60]})")
    return data


_CACHE: dict[Any, Judge | None] = {}


def for_kb(kb: Any, path: str | os.PathLike | None = None) -> Judge | None:
    """The judge for knowledge base ``kb``: fitted on the rows of its tasks (all rows when it
    shares fewer than ``MIN_SHARED_TASKS`` with them); None when no rows file exists."""
    p = Path(path) if path is not None else rows_path()
    ids = tuple(kb.task_ids)
    key = (str(p), ids)
    if key not in _CACHE:
        if not p.is_file():
            _CACHE[key] = None
        else:
            rows = read_rows(p)
            shared = set(ids) & {r["id"] for r in rows["tasks"]}
            feats, targets = probe_sets(rows, sorted(shared) if len(shared) >= MIN_SHARED_TASKS else None)
            _CACHE.clear()
            _CACHE[key] = Judge.fit(feats, targets) if feats else None
    return _CACHE[key]
