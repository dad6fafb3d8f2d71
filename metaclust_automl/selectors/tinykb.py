"""Small knowledge bases built in seconds from generated tables, for tests and examples.

The real knowledge base comes from ``metaclust meta-train`` on a corpus; this module
builds one the same way (run every configuration on every task with the backends,
score it with the labels, record internal indices and meta-features) on a handful of
generated tasks, so that selectors, the recommender and the estimator can be tested
without shipping data.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BackendError
from ..generators.shapes import make_task
from ..knowledge_base import STATUS, Config, KnowledgeBase, Task

#: a small portfolio that covers the main families (centroid, mixture, linkage, density)
TINY_PORTFOLIO: tuple[tuple[str, dict[str, Any]], ...] = (
    ("kmeans", {"n_clusters": 2}),
    ("kmeans", {"n_clusters": 3}),
    ("kmeans", {"n_clusters": 4}),
    ("kmeans", {"n_clusters": 6}),
    ("gmm", {"n_components": 3, "covariance_type": "full"}),
    ("agglomerative", {"n_clusters": 2, "linkage": "single"}),
    ("agglomerative", {"n_clusters": 3, "linkage": "ward"}),
    ("dbscan", {"eps_quantile": 0.9, "min_samples": 5}),
    ("hdbscan", {"min_cluster_size_frac": 0.05}),
)


DEFAULT_KINDS = ("blobs2", "blobs3", "blobs4", "blobs6", "moons", "circles", "aniso", "blobs3")


def build_kb(tasks: Sequence[tuple[str, np.ndarray, np.ndarray]],
             portfolio: Sequence[tuple[str, dict[str, Any]]] = TINY_PORTFOLIO, *,
             seed: int = 0, registry: Any = None) -> KnowledgeBase:
    """Run every configuration of ``portfolio`` on every ``(id, X, y)`` task and collect a
    knowledge base (scores with the labels, internal indices, meta-features, run times)."""
    from .. import metafeatures
    from ..metrics import INDEX_NAMES, external_scores, internal_indices

    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    configs = [Config(id=f"c{i:03d}-{alg}", algorithm=alg, params=dict(p)) for i, (alg, p) in enumerate(portfolio)]
    T, K, I = len(tasks), len(configs), len(INDEX_NAMES)
    P = {m: np.zeros((T, K)) for m in ("ari", "nmi", "acc")}
    C = np.zeros((T, K, I))
    seconds = np.zeros((T, K))
    status = np.zeros((T, K), dtype=np.int8)
    rows, names = [], None
    for t, (_, X, y) in enumerate(tasks):
        mf = metafeatures.extract(X, seed=seed)
        names = names or list(mf)
        rows.append([mf[k] for k in names])
        for c, cfg in enumerate(configs):
            start = time.perf_counter()
            try:
                run = registry.backend(cfg.algorithm).run(X, cfg.params, seed=seed)
            except BackendError:
                status[t, c] = STATUS["failed"]
                continue
            seconds[t, c] = time.perf_counter() - start
            scores = external_scores(y, run.labels, ignore_label=-1)
            for m in P:
                P[m][t, c] = scores[m]
            idx = internal_indices(X, run.labels, seed=seed)
            C[t, c] = [idx[k] for k in INDEX_NAMES]
    kb_tasks = [Task(id=tid, group=tid.split("-")[0], n=int(X.shape[0]), d=int(X.shape[1]), source="generated")
                for tid, X, _ in tasks]
    return KnowledgeBase(tasks=kb_tasks, configs=configs, metafeature_names=list(names or []),
                         index_names=list(INDEX_NAMES), M=np.asarray(rows, dtype=np.float64), P=P, C=C,
                         seconds=seconds, status=status, info={"built_by": "metaclust_automl.selectors.tinykb"})


def tiny_kb(kinds: Sequence[str] = DEFAULT_KINDS, n: int = 150, seed: int = 0,
            portfolio: Sequence[tuple[str, dict[str, Any]]] = TINY_PORTFOLIO) -> KnowledgeBase:
    """A knowledge base of one generated task per entry of ``kinds`` (a few seconds)."""
    tasks = []
    for i, kind in enumerate(kinds):
        X, y = make_task(kind, n, seed + i)
        tasks.append((f"{kind}-{i}", X, y))
    return build_kb(tasks, portfolio, seed=seed)


def toy_kb(n_tasks: int = 40, seed: int = 0) -> KnowledgeBase:
    """An instant, arrays-only knowledge base with a clear answer, for testing selectors.

    Two families of tasks differ in their first meta-feature (-1 or +1). Configuration
    ``good-a`` scores 0.9 on family A and 0.2 on B, ``good-b`` the reverse, the others are
    mediocre everywhere; one of them, ``flatterer``, always shows a high silhouette (what a
    degenerate solution looks like), and the silhouettes of the two good ones are
    informative (high where they are right)."""
    from ..metrics import INDEX_NAMES

    rng = np.random.default_rng(seed)
    fam = np.arange(n_tasks) % 2
    F = 4
    M = rng.normal(0, 0.3, size=(n_tasks, F))
    M[:, 0] = np.where(fam == 0, -1.0, 1.0) + rng.normal(0, 0.1, n_tasks)
    names = ["good-a", "good-b", "flatterer", "mid-1", "mid-2", "bad"]
    algos = ["kmeans", "hdbscan", "agglomerative", "kmeans", "gmm", "dbscan"]
    params: list[dict[str, Any]] = [{"n_clusters": 3}, {"min_cluster_size_frac": 0.05},
                                    {"n_clusters": 2, "linkage": "single"}, {"n_clusters": 5},
                                    {"n_components": 4}, {"eps_quantile": 0.1}]
    K = len(names)
    base = np.array([[0.9, 0.2, 0.1, 0.45, 0.4, 0.05], [0.2, 0.9, 0.1, 0.4, 0.45, 0.05]])
    P = base[fam] + rng.normal(0, 0.03, size=(n_tasks, K))
    C = np.zeros((n_tasks, K, len(INDEX_NAMES)))
    C[:, :, 0] = 0.2 + 0.5 * P + rng.normal(0, 0.03, size=(n_tasks, K))  # silhouette tracks ARI ...
    C[:, 2, 0] = 0.85  # ... except for the flatterer
    C[:, :, 1] = 3.0
    C[:, :, 2] = 1.0
    C[:, :, 3] = 3.0
    tasks = [Task(id=f"toy-{i}", group=f"g{i % 10}", n=200, d=2) for i in range(n_tasks)]
    configs = [Config(id=n, algorithm=a, params=p) for n, a, p in zip(names, algos, params)]
    return KnowledgeBase(tasks=tasks, configs=configs, metafeature_names=[f"toy.f{j}" for j in range(F)],
                         index_names=list(INDEX_NAMES), M=M, P={"ari": P, "nmi": P.copy(), "acc": P.copy()},
                         C=C, seconds=np.full((n_tasks, K), 0.01), status=np.zeros((n_tasks, K), dtype=np.int8))
