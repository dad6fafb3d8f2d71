"""The knn selector's robust sub-portfolio and share-of-best target, and the ranking core
putting a selector's sub-portfolio first (with the rest behind it as fallbacks)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from metaclust_automl.errors import ConfigError, KnowledgeBaseError
from metaclust_automl.knowledge_base import Config, KnowledgeBase, Task
from metaclust_automl.metrics import INDEX_NAMES
from metaclust_automl.recommend import Recommender
from metaclust_automl.recommend.ranking import ranked_first
from metaclust_automl.selectors.base import Query, Selector
from metaclust_automl.selectors.knn import KNNSelector
from metaclust_automl.selectors.portfolio import greedy_cover, portfolio_mask, share_of_best
from metaclust_automl.selectors.tinykb import make_task

from tinykb_dir import tiny_kb_dir


def arrays_kb(P: np.ndarray, M: np.ndarray) -> KnowledgeBase:
    """A knowledge base from a performance matrix and meta-features alone."""
    T, K = P.shape
    tasks = [Task(id=f"t{i}", group=f"g{i}", n=100, d=2) for i in range(T)]
    configs = [Config(id=f"c{j}", algorithm="kmeans", params={"n_clusters": j + 2}) for j in range(K)]
    return KnowledgeBase(tasks=tasks, configs=configs, metafeature_names=[f"f{j}" for j in range(M.shape[1])],
                         index_names=list(INDEX_NAMES), M=M, P={"ari": P, "nmi": P.copy(), "acc": P.copy()},
                         C=np.zeros((T, K, len(INDEX_NAMES))), seconds=np.full((T, K), 0.01),
                         status=np.zeros((T, K), dtype=np.int8))


def test_greedy_cover_prefers_complementary_configurations_to_the_best_on_average():
    half = np.arange(10) < 6
    P = np.stack([np.where(half, 1.0, 0.0),   # c0: perfect on six of ten tasks
                  np.where(half, 0.0, 1.0),   # c1: perfect on the other four
                  np.full(10, 0.65),          # c2: the best on average
                  np.full(10, 0.62)], axis=1)  # c3: second best on average, adds nothing to c2
    assert greedy_cover(P, 1).tolist() == [2]
    assert greedy_cover(P, 2).tolist() == [2, 0]  # not c3, though its mean is higher than c0's
    assert sorted(greedy_cover(P, 3).tolist()) == [0, 1, 2]
    assert portfolio_mask(P, 2).tolist() == [True, False, True, False]


@pytest.mark.parametrize("size", [0, 4, 9])
def test_greedy_cover_without_restriction_keeps_every_configuration(size):
    P = np.random.default_rng(0).uniform(size=(6, 4))
    assert greedy_cover(P, size).tolist() == [0, 1, 2, 3]


def test_share_of_best_divides_each_row_by_its_best():
    S = share_of_best(np.array([[0.9, 0.45], [0.0, 0.0]]))
    assert S[0].tolist() == pytest.approx([1.0, 0.5])
    assert np.all(np.isfinite(S)) and S[1].tolist() == [0.0, 0.0]


def two_neighbour_kb() -> KnowledgeBase:
    # task 0: everything works, c0 best; task 1: little works, c1 best; the query sits between them
    P = np.array([[0.9, 0.6], [0.05, 0.3]])
    return arrays_kb(P, np.array([[-1.0], [1.0]]))


def test_share_of_best_lets_a_hard_neighbour_count_as_much_as_an_easy_one():
    kb = two_neighbour_kb()
    q = Query(metafeatures=np.array([0.0]))
    raw = KNNSelector(k=2, target="ari", portfolio_size=0).fit(kb).predict_scores(q)
    share = KNNSelector(k=2, target="share_of_best", portfolio_size=0).fit(kb).predict_scores(q)
    assert int(np.argmax(raw)) == 0  # the raw average follows the easy task
    assert int(np.argmax(share)) == 1  # c1 reaches 2/3 and 1 of the best, c0 1 and 1/6
    # scaled back to the ARI scale: share (5/6) times the neighbours' mean best (0.6)
    assert share[1] == pytest.approx((2 / 3 + 1.0) / 2 * 0.6)


def test_knn_exposes_its_sub_portfolio_and_saves_it(tmp_path):
    rng = np.random.default_rng(1)
    P = rng.uniform(0, 1, size=(30, 8))
    kb = arrays_kb(P, rng.normal(size=(30, 3)))
    sel = KNNSelector(k=3, portfolio_size=3).fit(kb)
    assert sel.portfolio_.tolist() == portfolio_mask(P, 3).tolist() and sel.portfolio_.sum() == 3
    sel.save(tmp_path / "knn")
    meta = json.loads((tmp_path / "knn" / "selector.json").read_text())
    assert meta["portfolio"] == [kb.configs[i].id for i in np.flatnonzero(sel.portfolio_)]
    back = KNNSelector.load(tmp_path / "knn", kb)
    assert back.get_params()["portfolio_size"] == 3 and back.target == "share_of_best"
    q = Query(metafeatures=kb.M[4])
    assert np.allclose(back.predict_scores(q), sel.predict_scores(q))
    assert back.portfolio_.tolist() == sel.portfolio_.tolist()


def test_knn_refuses_unknown_settings(tmp_path):
    kb = two_neighbour_kb()
    with pytest.raises(ConfigError, match="target"):
        KNNSelector(target="rank").fit(kb)
    with pytest.raises(ConfigError, match="portfolio_size"):
        KNNSelector(portfolio_size=-1).fit(kb)
    KNNSelector(k=1).fit(kb).save(tmp_path / "knn")
    path = tmp_path / "knn" / "selector.json"
    meta = json.loads(path.read_text())
    meta["hyper"]["target"] = "os.system"
    path.write_text(json.dumps(meta))
    with pytest.raises(KnowledgeBaseError, match="target"):
        KNNSelector.load(tmp_path / "knn", kb)


def test_knn_probes_only_its_sub_portfolio():
    rng = np.random.default_rng(2)
    P = rng.uniform(0, 1, size=(20, 6))
    kb = arrays_kb(P, rng.normal(size=(20, 2)))
    sel = KNNSelector(k=3, portfolio_size=2).fit(kb)
    probed: list[int] = []
    sel.predict_scores(Query(metafeatures=kb.M[0], budget=4,
                             probe=lambda c: probed.append(c) or {n: 0.0 for n in INDEX_NAMES}))
    assert probed and set(probed) <= set(np.flatnonzero(sel.portfolio_).tolist())


class Fixed(Selector):
    """Scores 1, 2, 3, ... (the last configuration best); ``portfolio_``: the first two only."""

    name = "fixed"

    def fit(self, kb):
        self.kb_ = kb
        self.portfolio_ = np.zeros(len(kb.configs), dtype=bool)
        self.portfolio_[:2] = True
        return self

    def predict_scores(self, query):
        return np.arange(1.0, len(self.kb_.configs) + 1) / 100


def test_ranking_puts_the_sub_portfolio_first_and_keeps_the_rest_as_fallbacks():
    kb = KnowledgeBase.load(tiny_kb_dir())
    X, _ = make_task("blobs3", 120, seed=5)
    recs = Recommender(kb, Fixed().fit(kb)).recommend(X, top=len(kb.configs))
    ids = [r.config_id for r in recs]
    assert ids[:2] == [kb.configs[1].id, kb.configs[0].id]  # members, by score
    assert len(ids) > 2 and kb.configs[0].id not in ids[2:]
    rest = [r.predicted_score for r in recs[2:]]
    assert rest == sorted(rest, reverse=True)  # the others behind them, by score


def test_ranked_first_ignores_a_mask_that_does_not_fit():
    class Odd:
        portfolio_ = np.array([True, False])

    assert ranked_first(Odd(), 3).tolist() == [True, True, True]
    assert ranked_first(object(), 2).tolist() == [True, True]
