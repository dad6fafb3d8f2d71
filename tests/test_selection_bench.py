"""bench/selection_cv.py's re-implemented knn estimate (the base its ALTERNATIVES change) must pick
what the knn selector picks, or its comparisons would measure the re-implementation."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from metaclust_automl.knowledge_base import Config, KnowledgeBase, Task
from metaclust_automl.metrics import INDEX_NAMES

BENCH = Path(__file__).resolve().parents[1] / "bench" / "selection_cv.py"


def load_bench():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("selection_cv", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def grouped_kb(seed: int = 0, T: int = 60, K: int = 30, F: int = 6) -> KnowledgeBase:
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(T, F))
    M[:, 0] = (rng.random(T) < 0.1).astype(float)  # a mostly-zero column: IQR 0
    M[:, 1] = np.where(rng.random(T) < 0.2, rng.random(T), 0.0)  # some "mixed" tables (onehot share > 0)
    P = np.clip(0.5 + 0.4 * np.tanh(M @ rng.normal(size=(F, K))) + 0.1 * rng.normal(size=(T, K)), -1, 1)
    tasks = [Task(id=f"t{i}", group=f"g{i % 6}", n=100, d=2) for i in range(T)]
    configs = [Config(id=f"c{j}", algorithm="kmeans", params={"n_clusters": j + 2}) for j in range(K)]
    return KnowledgeBase(tasks=tasks, configs=configs, metafeature_names=["f0", "column_types.onehot_share"] + [f"f{j}" for j in range(2, F)],
                         index_names=list(INDEX_NAMES), M=M, P={"ari": P, "nmi": P.copy(), "acc": P.copy()},
                         C=np.zeros((T, K, len(INDEX_NAMES))), seconds=np.full((T, K), 0.01),
                         status=np.zeros((T, K), dtype=np.int8))


def test_the_reimplemented_knn_picks_what_the_selector_picks():
    bench = load_bench()
    kb = grouped_kb()
    G = np.array([t.group for t in kb.tasks])
    folds = [np.flatnonzero(G == g) for g in sorted(set(G))]
    P = kb.performance("ari")
    want = bench.picks(kb, {"target": "share_of_best", "portfolio_size": bench.DEFAULT_PORTFOLIO}, folds)
    assert np.array_equal(bench.alternative_picks(kb, P, G, folds, {}), want)
    # a real change changes picks (so the equality above is not vacuous)
    assert not np.array_equal(bench.alternative_picks(kb, P, G, folds, {"ks": (1,)}), want)


def test_leaving_a_family_out_of_training_is_honoured():
    bench = load_bench()
    kb = grouped_kb(seed=1)
    G = np.array([t.group for t in kb.tasks])
    folds = [np.flatnonzero(G == "g0")]
    P = kb.performance("ari")
    # without every other group but g1, the picks are those of a knowledge base of g1 alone
    others = np.flatnonzero(~np.isin(G, ["g0", "g1"]))
    got = bench.alternative_picks(kb, P, G, folds, {}, left_out=others)
    keep = np.flatnonzero(np.isin(G, ["g0", "g1"]))
    sub = kb.subset(list(keep))
    Gs = G[keep]
    want = bench.picks(sub, {"target": "share_of_best", "portfolio_size": bench.DEFAULT_PORTFOLIO},
                       [np.flatnonzero(Gs == "g0")])
    assert np.array_equal(got[folds[0]], want[np.flatnonzero(Gs == "g0")])
