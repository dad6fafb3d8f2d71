"""Build the probe judge's training rows (``selectors/judge.py``) from a knowledge base's tasks.

For every task the knowledge base holds, the knn selector is fitted on the knowledge base
without that task's group (its corpus family, or its dev battery), so the candidates are
the ones a table the selector never saw would get; its first five feasible candidates, in
the ranking core's order (sub-portfolio first), run on the task's probe sample exactly as
``metaclust cluster --budget`` runs them (``recommend.ranking.TableSession``, seed 0); the row
keeps their scores, internal indices, pairwise agreement and their stored ARIs (the
knowledge base's own score of each configuration on the task). Built-in tasks are
generated; dev tasks are read from the directory given (meta-features and rows only reach
the file, never the data). About a second per task on one core.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..knowledge_base import KnowledgeBase
from ..selectors.judge import INDEX_NAMES, MAX_CANDIDATES, ROWS_FORMAT, agreement


def _task_loader(datasets: str | os.PathLike | None) -> Any:
    from ..corpus.builtin import builtin_task_ids, load_builtin_task
    from ..corpus.tasks import load_directory

    builtin = set(builtin_task_ids())
    local = {t.id: t for t in load_directory(datasets)} if datasets else {}

    def load(task_id: str) -> Any:
        if task_id in builtin:
            return load_builtin_task(task_id)
        return local.get(task_id)
    return load


def build_rows(kb: KnowledgeBase, *, datasets: str | os.PathLike | None = None, seed: int = 0,
               progress: bool = True) -> dict[str, Any]:
    """The rows (a plain dict, see module docstring); tasks whose data cannot be found
    (a dev task without ``datasets``) are listed under ``missing``."""
    from ..recommend.feasibility import feasible_mask
    from ..recommend.ranking import TableSession, first_candidates, ranked_first
    from ..running.backend_runner import BackendRunner
    from ..selectors.base import Query
    from ..selectors.knn import KNNSelector, task_groups
    from ..validation import check_matrix
    from .progress import Bar

    P = kb.performance("ari")
    G = task_groups(kb)
    load = _task_loader(datasets)
    runner = BackendRunner(60.0)
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    fitted: dict[str, Any] = {}
    start = time.perf_counter()
    with Bar(progress, "judge rows", len(kb.tasks)) as bar:
        for t, task in enumerate(kb.tasks):
            bar.advance()
            data = load(task.id)
            if data is None:
                missing.append(task.id)
                continue
            g = str(G[t])
            if g not in fitted:  # one held-out selector per group (tasks come grouped)
                sel = KNNSelector().fit(kb.subset(np.flatnonzero(G != g)))
                fitted = {g: (sel, ranked_first(sel, len(kb.configs)))}
            sel, first = fitted[g]
            bar.show(f"judge rows: {task.id}")
            X = np.array(check_matrix(data.X))
            scores = np.asarray(sel.predict_scores(Query(metafeatures=kb.M[t])), dtype=np.float64)
            order = first_candidates(scores, first, feasible_mask(kb, X.shape[0], runner.registry), MAX_CANDIDATES)
            if len(order) < 2:
                continue
            session = TableSession(kb=kb, X=X, runner=runner, seed=seed, budget=len(order))
            runner.new_table(X)
            try:
                indices = [session.probe(c) for c in order]
            finally:
                runner.release()
            A = agreement([session.labels.get(c) for c in order])
            rows.append({"id": task.id, "group": g, "configs": [kb.configs[c].id for c in order],
                         "scores": [round(float(scores[c]), 6) for c in order],
                         "indices": [{n: round(float(ix.get(n, 0.0)), 6) for n in INDEX_NAMES} for ix in indices],
                         "agree": np.round(A, 6).tolist(), "ari": [round(float(P[t, c]), 6) for c in order]})
    return {"format": ROWS_FORMAT, "version": 1, "seed": seed, "knowledge_base_tasks": len(kb.tasks),
            "seconds": round(time.perf_counter() - start, 1), "missing": missing, "tasks": rows}


def save_rows(rows: dict[str, Any], path: str | os.PathLike) -> Path:
    from ..atomic import write_text

    return write_text(path, json.dumps(rows, separators=(",", ":")) + "\n")
