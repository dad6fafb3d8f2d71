"""Noise rows given their nearest cluster (``backends/noise.py``): the rule, where it applies
(the CLI, the recommender, the estimator, saved models) and that the knowledge base scores it."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from metaclust_automl.backends.noise import apply_policy, assign_noise
from metaclust_automl.errors import ConfigError, DataError
from metaclust_automl.metrics import ari
from metaclust_automl.plugins import get_registry


def _blobs_with_fringe(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight blobs, each with a loose fringe that DBSCAN leaves as noise."""
    X, y = make_blobs(400, centers=[[0, 0], [12, 0], [0, 12]], cluster_std=0.4, random_state=seed)
    rng = np.random.default_rng(seed)
    fringe = rng.integers(0, 400, 40)
    X[fringe] += rng.normal(0, 1.6, (40, 2))
    return X, y


def test_assign_noise_gives_each_noise_row_its_nearest_cluster():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0], [1.0, 0.0], [8.0, 0.0]])
    labels = np.array([0, 0, 1, 1, -1, -1])
    np.testing.assert_array_equal(assign_noise(X, labels), [0, 0, 1, 1, 0, 1])
    # in the method's space: after minmax the second column dominates the distances
    X2 = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [0.0, 0.9]])
    lab2 = np.array([0, 1, 0, -1])
    assert assign_noise(X2, lab2, "none")[3] == 1
    assert assign_noise(X2, lab2, "minmax")[3] == 1
    # nothing to do: no noise, or nothing but noise
    np.testing.assert_array_equal(assign_noise(X, np.zeros(6, dtype=int)), np.zeros(6))
    np.testing.assert_array_equal(assign_noise(X, np.full(6, -1)), np.full(6, -1))


def test_apply_policy_keeps_the_partition_and_says_what_it_did():
    X, y = _blobs_with_fringe()
    run = get_registry().backend("dbscan").run(X, {"eps_quantile": 0.2, "min_samples": 10, "preprocess": "standard"})
    noise = int((run.labels < 0).sum())
    assert noise > 0
    kept = apply_policy(run, X, "keep")
    assert kept is run and kept.noise_assigned == 0 and kept.method_labels is None
    done = apply_policy(run, X, "assign")
    assert done.noise_assigned == noise and (done.labels >= 0).all()
    np.testing.assert_array_equal(done.partition, run.labels)  # the method's own partition stays
    np.testing.assert_array_equal(done.labels[run.labels >= 0], run.labels[run.labels >= 0])
    assert any("nearest clustered row" in n for n in done.notes)
    assert ari(y, done.labels) > ari(y, run.labels)
    with pytest.raises(ConfigError):
        apply_policy(run, X, "drop")


def test_evaluate_job_scores_the_delivered_labels_and_indices_the_partition():
    from metaclust_automl.metrics import INDEX_NAMES
    from metaclust_automl.training.kb.tasks import evaluate_job

    X, y = _blobs_with_fringe(1)
    params = {"eps_quantile": 0.2, "min_samples": 10, "preprocess": "standard"}
    arrays = {"X": X, "y": y}
    assigned, _ = evaluate_job(arrays, 0, "dbscan", params, seed=0, indices=True)
    kept, _ = evaluate_job(arrays, 0, "dbscan", params, seed=0, indices=True, noise="keep")
    run = get_registry().backend("dbscan").run(X, params)
    assert assigned["ari"] == pytest.approx(ari(y, apply_policy(run, X, "assign").labels))
    assert kept["ari"] == pytest.approx(ari(y, run.labels)) and assigned["ari"] > kept["ari"]
    share = INDEX_NAMES.index("noise_share")
    assert assigned["indices"] == kept["indices"] and assigned["indices"][share] > 0


def test_cli_assigns_noise_by_default_and_keeps_it_when_asked(cli, tmp_path):
    X, _ = _blobs_with_fringe(2)
    data = tmp_path / "t.csv"
    np.savetxt(data, X, delimiter=",", header="a,b", comments="")
    args = ["cluster", data, "-a", "dbscan", "--set", "eps_quantile=0.2", "--set", "min_samples=10", "--json"]
    code, out, _ = cli(*args, "-o", tmp_path / "assigned.csv")
    report = json.loads(out)
    assert code == 0 and report["noise"] == 0 and report["noise_assigned"] > 0
    assert (np.loadtxt(tmp_path / "assigned.csv", skiprows=1) >= 0).all()
    code, out, _ = cli(*args, "-o", tmp_path / "kept.csv", "--noise", "keep")
    report = json.loads(out)
    assert code == 0 and report["noise"] > 0 and report["noise_assigned"] == 0
    assert (np.loadtxt(tmp_path / "kept.csv", skiprows=1) < 0).sum() == report["noise"]
    code, _, err = cli(*args, "-o", tmp_path / "bad.csv", "--noise", "drop")
    assert code == 2 and "noise must be one of assign, keep" in err and not (tmp_path / "bad.csv").exists()


def test_saved_model_of_an_assigned_run_labels_far_rows_with_a_cluster():
    from metaclust_automl.saved_model import SavedModel

    X, _ = _blobs_with_fringe(3)
    params = {"eps_quantile": 0.2, "min_samples": 10, "preprocess": "standard"}
    run = get_registry().backend("dbscan").run(X, params)
    done = apply_policy(run, X, "assign")
    cols = ["a", "b"]
    far = np.array([[30.0, 30.0]])
    kept_model = SavedModel.from_run(X, run.labels, "dbscan", run.params, run.resolved, cols)
    assigned_model = SavedModel.from_run(X, done.labels, "dbscan", done.params, done.resolved, cols,
                                         noise_assigned=True)
    assert kept_model.predict_encoded(far)[0] == -1
    assert assigned_model.predict_encoded(far)[0] >= 0
    np.testing.assert_array_equal(assigned_model.predict_encoded(X), done.labels)


def test_estimator_refuses_an_unknown_noise_policy():
    from metaclust_automl.estimator import MetaClusterer

    X, _ = make_blobs(60, random_state=0)
    with pytest.raises(ConfigError):
        MetaClusterer(noise="drop").fit(X)
    assert MetaClusterer().get_params()["noise"] == "assign"


def test_a_storage_scored_with_noise_kept_is_not_reused(tmp_path):
    import optuna

    from metaclust_automl.training.kb.slots import ensure_study

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'old.db'}")
    sid = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "old")
    storage.set_study_user_attr(sid, "seed", 0)  # an old storage: one attribute per key, no noise
    with pytest.raises(ConfigError, match="noise='keep'"):
        ensure_study(storage, "old", {"seed": 0, "noise": "assign"})
    assert ensure_study(storage, "old", {"seed": 0})[1] is False  # a study without the setting is fine
    # a study whose creator (another worker) has not written its settings yet is not an old one
    storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "racing")
    assert ensure_study(storage, "racing", {"seed": 0, "noise": "assign"})[1] is False


def test_extend_scores_again_the_noise_columns_of_a_base_that_kept_noise(tmp_path):
    from metaclust_automl.corpus.tasks import LabelledTask
    from metaclust_automl.knowledge_base import KnowledgeBase
    from metaclust_automl.training.kb import build_knowledge_base
    from metaclust_automl.training.kb.extend import extend_knowledge_base, noise_columns

    tasks = [LabelledTask(f"fringe{i}", *_blobs_with_fringe(i), group="fringe") for i in range(3)]
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    base = build_knowledge_base(tasks, tmp_path / "base", storage=url, trials=2, backends=["dbscan", "kmeans"],
                                portfolio_size=3, time_limit=30, progress=False, sampler="qmc")
    assert base.info["noise"] == "assign" and noise_columns(base) == []
    old = KnowledgeBase(tasks=list(base.tasks), configs=list(base.configs),
                        metafeature_names=list(base.metafeature_names), index_names=list(base.index_names),
                        M=base.M, P={m: np.zeros_like(v) for m, v in base.P.items()}, C=base.C,
                        seconds=base.seconds, status=base.status, info={**base.info, "noise": "keep"})
    cols = noise_columns(old)
    assert cols == [j for j, c in enumerate(old.configs) if c.algorithm == "dbscan"] and cols
    kb = extend_knowledge_base(old, tasks, tmp_path / "kb", time_limit=30, progress=False)
    others = [j for j in range(len(old.configs)) if j not in cols]
    np.testing.assert_allclose(kb.P["ari"][:, cols], base.P["ari"][:, cols])  # scored as a fresh build
    np.testing.assert_array_equal(kb.P["ari"][:, others], 0.0)  # the other columns kept as they were
    assert kb.info["noise"] == "assign" and len(kb.info["extended"]["rescored_noise_configs"]) == len(cols)
    with pytest.raises(DataError, match="not in the corpus"):
        extend_knowledge_base(old, tasks[:2], tmp_path / "kb2", time_limit=30, progress=False)
