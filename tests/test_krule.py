"""k rules: k chosen on the table, a fixed n_clusters still wins; Genie; extending a knowledge base."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from metaclust_automl.corpus import LabelledTask
from metaclust_automl.errors import ConfigError, DataError
from metaclust_automl.knowledge_base import KnowledgeBase
from metaclust_automl.metrics import ari
from metaclust_automl.plugins import get_registry

K_BACKENDS = ("kmeans", "gmm", "agglomerative", "birch", "spectral", "genie")


@pytest.mark.parametrize("true_k", [2, 5])
@pytest.mark.parametrize("algorithm", K_BACKENDS)
def test_k_rule_finds_the_number_of_separated_blobs(algorithm, true_k):
    X, y = make_blobs(400, centers=true_k, n_features=3, cluster_std=0.5, center_box=(-20, 20), random_state=true_k)
    run = get_registry().backend(algorithm).run(X, {"k_rule": "silhouette"}, seed=0)
    key = "n_components" if algorithm == "gmm" else "n_clusters"
    assert run.resolved[key] == true_k and "k_rule" not in run.resolved
    assert ari(y, run.labels) > 0.95


@pytest.mark.parametrize("rule", ["calinski_harabasz", "davies_bouldin", "eigengap"])
def test_every_rule_finds_three_blobs(rule):
    X, _ = make_blobs(600, centers=3, n_features=2, cluster_std=0.4, center_box=(-15, 15), random_state=1)
    assert get_registry().backend("kmeans").run(X, {"k_rule": rule}).resolved["n_clusters"] == 3


def test_bic_is_the_mixture_rule_only():
    X, _ = make_blobs(300, centers=4, n_features=2, cluster_std=0.4, center_box=(-15, 15), random_state=2)
    assert get_registry().backend("gmm").run(X, {"k_rule": "bic"}).resolved["n_components"] == 4
    with pytest.raises(ConfigError):
        get_registry().backend("kmeans").validate({"k_rule": "bic"})


@pytest.mark.parametrize("algorithm", K_BACKENDS)
def test_given_k_wins_over_the_rule(algorithm):
    X, _ = make_blobs(300, centers=2, n_features=2, random_state=0)
    key = "n_components" if algorithm == "gmm" else "n_clusters"
    run = get_registry().backend(algorithm).run(X, {key: 5, "k_rule": "silhouette"}, seed=0)
    assert run.resolved[key] == 5 and run.n_clusters == 5


def test_k_rule_respects_k_max_without_widening_and_is_searched_not_k():
    X, _ = make_blobs(500, centers=8, n_features=2, cluster_std=0.3, center_box=(-30, 30), random_state=0)
    backend = get_registry().backend("kmeans")
    resolved = backend.run(X, {"k_max": 4}).resolved
    assert resolved["n_clusters"] == 4
    assert "k_widen" not in resolved
    searched = {p.name for p in backend.space.params if p.search}
    assert "k_rule" in searched and "n_clusters" not in searched


def test_rule_cost_is_bounded_by_a_sample():
    """On a big table the rule sees at most K_SAMPLE rows, and still finds k."""
    from metaclust_automl.backends.krule import K_SAMPLE, k_sample

    X, _ = make_blobs(20_000, centers=3, n_features=2, cluster_std=0.5, center_box=(-15, 15), random_state=3)
    assert k_sample(X).shape[0] == K_SAMPLE
    assert get_registry().backend("kmeans").run(X, {}).resolved["n_clusters"] == 3


def test_genie_gini_threshold_and_registry():
    assert "genie" in get_registry().backends
    X, y = make_blobs(300, centers=3, n_features=2, cluster_std=0.5, center_box=(-15, 15), random_state=4)
    run = get_registry().backend("genie").run(X, {"n_clusters": 3, "gini_threshold": 0.3})
    assert ari(y, run.labels) > 0.95
    with pytest.raises(ConfigError):
        get_registry().backend("genie").validate({"gini_threshold": 1.5})


# -- extending a knowledge base ------------------------------------------------------------

def _tasks(extra: bool = False) -> list[LabelledTask]:
    out = []
    for i in range(3):
        X, y = make_blobs(n_samples=120, centers=2 + i, n_features=2, random_state=i)
        out.append(LabelledTask(f"blobs{i}", X, y, group="blobs"))
    if extra:
        X, y = make_blobs(n_samples=150, centers=4, n_features=3, random_state=9)
        out.append(LabelledTask("new4", X, y, group="new"))
    return out


def test_extend_adds_configurations_and_tasks_and_resumes(tmp_path):
    from metaclust_automl.training.kb import build_knowledge_base
    from metaclust_automl.training.kb.extend import extend_knowledge_base, grid_candidates

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    base = build_knowledge_base(_tasks(), tmp_path / "base", storage=url, trials=2, backends=["dbscan"],
                                portfolio_size=2, time_limit=30, progress=False, sampler="qmc")
    add = [c for c in grid_candidates("k-rules") if c.algorithm in ("kmeans", "genie")][:3]
    kb = extend_knowledge_base(base, _tasks(extra=True), tmp_path / "kb", add=add, storage=url,
                               time_limit=30, progress=False)
    loaded = KnowledgeBase.load(tmp_path / "kb")
    K0 = len(base.configs)
    assert len(loaded.configs) == K0 + 3 and loaded.task_ids[-1] == "new4"
    bi = [loaded.task_ids.index(t) for t in base.task_ids]
    np.testing.assert_array_equal(loaded.P["ari"][bi, :K0], base.P["ari"])  # base rows unchanged
    assert np.isfinite(loaded.P["ari"]).all() and np.isfinite(loaded.M).all()
    assert loaded.P["ari"][:, K0:].max() > 0.9  # a k rule solves separated blobs
    # resume: the same command against the same storage repeats nothing and gives the same matrix
    again = extend_knowledge_base(base, _tasks(extra=True), tmp_path / "kb2", add=add, storage=url,
                                  time_limit=30, progress=False)
    np.testing.assert_array_equal(again.P["ari"], loaded.P["ari"])
    cut = extend_knowledge_base(base, _tasks(extra=True), tmp_path / "kb3", add=add, storage=url,
                                time_limit=30, progress=False, portfolio_size=2)
    assert len(cut.configs) == 2
    best = np.nanmax(loaded.P["ari"], axis=1)
    assert np.nanmax(cut.P["ari"], axis=1).sum() >= 0.9 * best.sum()
    # a base task no longer in the corpus is dropped; one whose table changed is run again whole
    changed = _tasks()[:2]
    changed[1] = LabelledTask("blobs1", changed[1].X * 2.0 + 1.0, changed[1].y, group="blobs")
    kb4 = extend_knowledge_base(base, changed, tmp_path / "kb4", add=add, time_limit=30,
                                progress=False)
    assert kb4.task_ids == ["blobs0", "blobs1"]
    assert kb4.info["extended"]["rerun_changed_tasks"] == ["blobs1"]
    assert kb4.info["extended"]["dropped_tasks"] == ["blobs2"]
    assert np.isfinite(kb4.P["ari"]).all()
    other = [LabelledTask("other", *make_blobs(60, random_state=0))]
    with pytest.raises(DataError):
        extend_knowledge_base(base, other, tmp_path / "kb5", add=add, storage=url, progress=False)
    # tasks only: the base's rows are kept whole, the new task gets every configuration
    more = extend_knowledge_base(loaded, other, tmp_path / "kb6", time_limit=30, progress=False)
    assert more.task_ids == ["other", *loaded.task_ids] and np.isfinite(more.P["ari"]).all()
    np.testing.assert_array_equal(more.P["ari"][1:], loaded.P["ari"])


def test_greedy_prune_keeps_the_best_cover():
    from metaclust_automl.training.kb.extend import greedy_prune

    P = np.array([[0.9, 0.1, 0.5], [0.1, 0.9, 0.5], [0.2, 0.2, 0.6]])
    assert greedy_prune(P, 1) == [2]  # the best single cover
    assert greedy_prune(P, 2) == [0, 2]  # then the biggest gain on top of it
    assert greedy_prune(P, 5) == [0, 1, 2]


def _without_metafeatures(kb: KnowledgeBase, drop: list[str]) -> KnowledgeBase:
    """``kb`` as a build from before the meta-features ``drop`` were installed."""
    keep = [j for j, n in enumerate(kb.metafeature_names) if n not in drop]
    return KnowledgeBase(tasks=list(kb.tasks), configs=list(kb.configs),
                         metafeature_names=[kb.metafeature_names[j] for j in keep], index_names=list(kb.index_names),
                         M=kb.M[:, keep], P={m: kb.P[m] for m in kb.P}, C=kb.C, seconds=kb.seconds,
                         status=kb.status, info=dict(kb.info))


def test_extend_computes_metafeatures_installed_since_the_base(tmp_path):
    from metaclust_automl.training.kb import build_knowledge_base
    from metaclust_automl.training.kb.extend import extend_knowledge_base

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    full = build_knowledge_base(_tasks(), tmp_path / "base", storage=url, trials=2, backends=["dbscan"],
                                portfolio_size=2, time_limit=30, progress=False, sampler="qmc")
    added = [n for n in full.metafeature_names if n.startswith("column_types.")]
    assert added
    old = _without_metafeatures(full, added)
    # a base task the corpus lacks could not get the new meta-features: a clear error
    with pytest.raises(DataError, match="meta-features were added"):
        extend_knowledge_base(old, _tasks()[:2], tmp_path / "kb0", storage=url, progress=False)
    assert not (tmp_path / "kb0").exists()
    kb = extend_knowledge_base(old, _tasks(extra=True), tmp_path / "kb", storage=url, time_limit=30, progress=False)
    assert kb.metafeature_names == full.metafeature_names
    assert kb.info["extended"]["added_metafeatures"] == added
    assert kb.info["extended"]["rerun_changed_tasks"] == []  # compared on the base's meta-features only
    bi = [kb.task_ids.index(t) for t in full.task_ids]
    np.testing.assert_allclose(kb.M[bi], full.M)  # the new columns as a fresh build computes them
    np.testing.assert_array_equal(kb.P["ari"][bi], full.P["ari"])
    # a base with a meta-feature no installed plugin computes cannot be extended
    odd = _without_metafeatures(full, [])
    odd.metafeature_names[0] = "nobody.computes_this"
    with pytest.raises(DataError, match="no installed plugin"):
        extend_knowledge_base(odd, _tasks(), tmp_path / "kb1", storage=url, progress=False)


@pytest.mark.parametrize("algorithm,rule", [("kmeans", "silhouette"), ("genie", "silhouette")])
def test_a_rule_at_the_end_of_its_range_searches_on_with_k_widen(algorithm, rule):
    """8 groups with k_max 4, and 36 well-separated groups with the default k_max 20: the
    rule's choice is its range's end, so with k_widen it widens and finds them."""
    grid = np.array([(i, j) for i in range(6) for j in range(6)], dtype=float) * 10
    backend = get_registry().backend(algorithm)
    X8, _ = make_blobs(500, centers=8, n_features=2, cluster_std=0.3, center_box=(-30, 30), random_state=0)
    assert backend.run(X8, {"k_max": 4, "k_rule": rule, "k_widen": True}, seed=0).resolved["n_clusters"] == 8
    X36, y36 = make_blobs(1800, centers=grid, cluster_std=0.5, random_state=0)
    run = backend.run(X36, {"k_rule": rule, "k_widen": True}, seed=0)
    assert run.resolved["n_clusters"] == 36 and ari(y36, run.labels) > 0.95
    assert backend.run(X36, {"k_rule": rule}, seed=0).resolved["n_clusters"] <= 20  # off by default


def test_widening_stops_at_a_tenth_of_the_rule_sample():
    """On 150 rows of 30 tight groups a widened search stops at 15 (ten rows a cluster)."""
    grid = np.array([(i, j) for i in range(6) for j in range(5)], dtype=float) * 10
    X, _ = make_blobs(150, centers=grid, cluster_std=0.3, random_state=0)
    run = get_registry().backend("kmeans").run(X, {"k_max": 4, "k_widen": True}, seed=0)
    assert run.resolved["n_clusters"] == 15
