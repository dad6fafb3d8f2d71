"""The knn selector scales meta-features as its numeric tables spread them, so adding mixed
tables (many one-hot columns) to a base does not move what it picks for a numeric table."""
from __future__ import annotations

import numpy as np

from metaclust_automl.selectors.features import ONEHOT_SHARE, Standardiser, metafeature_scaler

NAMES = ["general.binary_share", "stat.skew", ONEHOT_SHARE]


def _numeric(rng: np.random.Generator, n: int = 80) -> np.ndarray:
    M = np.zeros((n, 3))
    M[:, 0] = np.where(rng.random(n) < 0.1, rng.random(n) * 0.2, 0.0)  # mostly 0: IQR 0
    M[:, 1] = rng.normal(size=n)
    return M


def _mixed(rng: np.random.Generator, n: int = 6) -> np.ndarray:
    M = np.zeros((n, 3))
    M[:, 0] = 0.5 + 0.4 * rng.random(n)  # one-hot columns are binary
    M[:, 1] = rng.normal(size=n)
    M[:, 2] = 0.3 + 0.5 * rng.random(n)
    return M


def test_mixed_tables_do_not_change_the_scale_of_numeric_features():
    rng = np.random.default_rng(0)
    num, mix = _numeric(rng), _mixed(rng)
    alone = metafeature_scaler(num, NAMES)
    both = metafeature_scaler(np.vstack([num, mix]), NAMES)
    np.testing.assert_array_equal(alone.center[:2], both.center[:2])
    np.testing.assert_array_equal(alone.scale[:2], both.scale[:2])
    # the all-table scale is what it replaces: there, the mixed rows widen binary_share
    assert Standardiser.fit(np.vstack([num, mix])).scale[0] > 2 * alone.scale[0]
    # the column-type feature, constant on numeric tables, takes the all-table scale
    assert both.scale[2] == Standardiser.fit(np.vstack([num, mix])).scale[2]


def test_numeric_picks_unchanged_by_added_mixed_tasks():
    from metaclust_automl.knowledge_base import Config, KnowledgeBase, Task
    from metaclust_automl.metrics import INDEX_NAMES
    from metaclust_automl.selectors.base import Query
    from metaclust_automl.selectors.knn import KNNSelector

    rng = np.random.default_rng(1)
    M = np.vstack([_numeric(rng), _mixed(rng)])
    T, K = M.shape[0], 12
    P = np.clip(0.5 + 0.4 * np.tanh(M[:, :2] @ rng.normal(size=(2, K))), -1, 1)

    def kb(rows: np.ndarray) -> KnowledgeBase:
        return KnowledgeBase(tasks=[Task(id=f"t{i}", group=f"g{i}", n=100, d=2) for i in rows],
                             configs=[Config(id=f"c{j}", algorithm="kmeans", params={"n_clusters": j + 2})
                                      for j in range(K)],
                             metafeature_names=NAMES, index_names=list(INDEX_NAMES), M=M[rows],
                             P={m: P[rows].copy() for m in ("ari", "nmi", "acc")},
                             C=np.zeros((rows.size, K, len(INDEX_NAMES))), seconds=np.full((rows.size, K), 0.01),
                             status=np.zeros((rows.size, K), dtype=np.int8))

    queries = _numeric(np.random.default_rng(2), 20)
    queries[:, 0] = 0.0  # tables without binary columns: no mixed table is near them

    def scores(selector: KNNSelector) -> np.ndarray:
        return np.array([selector.predict_scores(Query(metafeatures=q)) for q in queries])

    numeric_only = scores(KNNSelector(k=5, portfolio_size=0).fit(kb(np.arange(80))))
    with_mixed = scores(KNNSelector(k=5, portfolio_size=0).fit(kb(np.arange(T))))
    np.testing.assert_allclose(numeric_only, with_mixed)
    # with the scale measured over every table, the same mixed tasks move the numeric answers
    old = KNNSelector(k=5, portfolio_size=0)
    full = kb(np.arange(T))
    old._setup(full, Standardiser.fit(full.M), Standardiser.fit(np.zeros((2, len(INDEX_NAMES)))))
    assert not np.allclose(scores(old), numeric_only)
