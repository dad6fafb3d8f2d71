"""One ranking path: what ``metaclust evaluate`` scores is what ``metaclust cluster`` runs.

Both go through ``recommend.rank`` (and ``Recommender.cluster``'s fallbacks); an earlier copy
of the ranking inside the evaluation skipped ``clip_to_kb_range`` and the feasibility rules, so
its numbers could differ from the product's on tables outside the knowledge base's range.
"""
from __future__ import annotations

import csv

import numpy as np
import pytest

from metaclust_automl.knowledge_base import KnowledgeBase
from metaclust_automl.metrics import external_scores
from metaclust_automl.selectors.base import Selector
from metaclust_automl.generators.shapes import make_task

from tinykb_dir import tiny_kb_dir

#: (kind, rows, seed): one table inside the tiny knowledge base's size range, two above it
TABLES = [("blobs3", 110, 31), ("aniso", 900, 32), ("moons", 1500, 33)]


@pytest.fixture(scope="module")
def kb_dir():
    return tiny_kb_dir()


def test_evaluate_top1_equals_what_cluster_runs(kb_dir, tmp_path, cli):
    kb = KnowledgeBase.load(kb_dir)
    largest = max(t.n for t in kb.tasks)
    assert any(n > largest for _, n, _ in TABLES)  # the case the old copy got wrong
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for kind, n, seed in TABLES:
        X, y = make_task(kind, n, seed=seed)
        np.savez(corpus / f"{kind}.npz", X=X, y=y)
        np.savetxt(tmp_path / f"{kind}.csv", X, delimiter=",", header="a,b", comments="", fmt="%.17g")
    out = tmp_path / "out"
    code, _, err = cli("evaluate", corpus, "--kb", kb_dir, "--selectors", "knn", "--out", out)
    assert code == 0, err
    with open(out / "results.csv", newline="") as fh:
        rows = {r["task"].split("/")[-1]: r for r in csv.DictReader(fh) if r["method"] == "knn"}
    assert set(rows) == {kind for kind, _, _ in TABLES}
    for kind, n, seed in TABLES:
        _, y = make_task(kind, n, seed=seed)
        labels_path = tmp_path / f"{kind}-labels.csv"
        code, _, err = cli("cluster", tmp_path / f"{kind}.csv", "--kb", kb_dir, "--selector", "knn",
                           "-o", labels_path, "--json")
        assert code == 0, err
        labels = np.loadtxt(labels_path, delimiter=",", skiprows=1, dtype=np.int64)
        row = rows[kind]
        assert row["error"] == ""
        assert float(row["ari"]) == pytest.approx(external_scores(y, labels, ignore_label=-1)["ari"], abs=1e-6)
        assert int(row["n_clusters"]) == np.unique(labels[labels >= 0]).size


def test_evaluate_has_no_ranking_of_its_own():
    """The copies are gone: the evaluation imports the ranking, it does not define one."""
    from metaclust_automl.evaluation import runner

    for name in ("feasible_configs", "metafeature_vector", "_Prober", "PROBE_ROWS", "shipped_weights_dir",
                 "make_query"):
        assert not hasattr(runner, name), name
    assert not hasattr(runner._FitCache, "_saved")


class RangeSensitive(Selector):
    """A selector that extrapolates: above the largest table it was fitted on it prefers
    kmeans with k=2, otherwise k=3 (what an unclipped network may do off its training range)."""

    name = "range"

    def fit(self, kb: KnowledgeBase, *, seed: int = 0) -> RangeSensitive:
        self.col = kb.metafeature_names.index("general.log_n")
        self.top = float(np.nanmax(kb.M[:, self.col]))
        self.k2 = next(i for i, c in enumerate(kb.configs) if c.algorithm == "kmeans" and c.params["n_clusters"] == 2)
        self.k3 = next(i for i, c in enumerate(kb.configs) if c.algorithm == "kmeans" and c.params["n_clusters"] == 3)
        self.K = len(kb.configs)
        return self

    def predict_scores(self, query) -> np.ndarray:  # noqa: ANN001
        scores = np.zeros(self.K)
        scores[self.k2 if query.metafeatures[self.col] > self.top else self.k3] = 1.0
        return scores


def test_evaluate_and_the_recommender_agree_beyond_the_kb_range(kb_dir):
    from metaclust_automl.corpus import LabelledTask
    from metaclust_automl.evaluation.runner import Plan, evaluate_corpus
    from metaclust_automl.recommend import Recommender

    kb = KnowledgeBase.load(kb_dir)
    X, y = make_task("blobs3", 900, seed=40)  # 900 rows; the tiny knowledge base's tasks have 120
    task = LabelledTask(id="new/blobs3", X=X, y=y, group="new")
    plan = Plan(selectors=["range"], kb=kb, selector_factory=lambda name: RangeSensitive())
    row = next(r for r in evaluate_corpus([task], plan, progress=False) if r.method == "range")
    chosen, run, _ = Recommender(kb, RangeSensitive().fit(kb)).cluster(X, seed=0)
    assert chosen.params == {"n_clusters": 3}  # judged at the edge of the range, like the largest tasks
    assert (row.algorithm, row.params) == ("kmeans", '{"n_clusters": 3}')
    assert row.ari == pytest.approx(external_scores(y, run.labels, ignore_label=-1)["ari"])
