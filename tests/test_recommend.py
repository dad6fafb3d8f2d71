"""The Recommender, the ``recommend``/``train-selectors`` commands and ``cluster`` without
--algorithm, on a tiny knowledge base built from generated tables."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from metaclust_automl.errors import ConfigError, DataError
from metaclust_automl.recommend import Recommendation, Recommender, load_selector
from metaclust_automl.generators.shapes import make_task

from tables import blobs_csv
from tinykb_dir import tiny_kb_dir


@pytest.fixture(scope="module")
def kb_dir():
    return tiny_kb_dir()


@pytest.fixture(scope="module")
def rec(kb_dir):
    return Recommender.default(selector="knn", kb=kb_dir)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs_csv(tmp_path_factory.mktemp("data"), 240, seed=7)


def test_recommend_returns_ranked_dataclasses(rec, table):
    _, X, _ = table
    recs = rec.recommend(X, top=4)
    assert 1 <= len(recs) <= 4 and all(isinstance(r, Recommendation) for r in recs)
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    scores = [r.predicted_score for r in recs]
    assert scores == sorted(scores, reverse=True)
    known = {c.id for c in rec.kb.configs}
    assert all(r.config_id in known and r.selector == "knn" for r in recs)
    for r in recs:
        if r.algorithm == "dbscan":  # scale-free eps_quantile made concrete
            assert isinstance(r.resolved["eps"], float) and r.resolved["eps"] > 0
        assert json.dumps(r.to_dict())


def test_to_estimator_runs_the_configuration(rec, table):
    _, X, y = table
    from metaclust_automl.metrics import ari

    best = rec.recommend(X, top=1)[0]
    est = best.to_estimator(random_state=0)
    labels = est.fit_predict(X)
    assert labels.shape == (X.shape[0],)
    direct = rec.run_best(X, best, seed=0).labels
    np.testing.assert_array_equal(labels, direct)
    assert ari(y, labels) > 0.5  # three separated blobs: the tiny KB knows what works on blobs


def test_budget_probes_a_sample_and_says_so(rec, table):
    _, X, _ = table
    recs = rec.recommend(X, top=3, budget=2)
    assert len(rec.session.indices) == 2
    probed = [r for r in recs if r.probed is not None]
    assert probed and all("ran it" in r.reason for r in probed)
    assert set(probed[0].probed) >= {"silhouette", "n_clusters"}


def test_same_seed_same_answer(rec, table):
    _, X, _ = table
    a = [r.to_dict() for r in rec.recommend(X, top=3, budget=2, seed=5)]
    b = [r.to_dict() for r in rec.recommend(X, top=3, budget=2, seed=5)]
    assert a == b


def test_bad_arguments_raise_typed_errors(rec, table):
    _, X, _ = table
    with pytest.raises(ConfigError):
        rec.recommend(X, top=0)
    with pytest.raises(ConfigError):
        rec.recommend(X, budget=-1)
    with pytest.raises(DataError, match="labels for"):
        rec.recommend(X, labels=[0, 1, 2])
    with pytest.raises(DataError, match="NaN"):
        rec.recommend(np.array([[0.0, np.nan], [1, 2], [3, 4], [5, 6]]))


def test_few_labels_flow_through_the_recommender(kb_dir, table):
    _, X, y = table
    from metaclust_automl.selectors.maml import MAMLSelector

    kb = Recommender.default(selector="knn", kb=kb_dir).kb
    rec = Recommender(kb, MAMLSelector(steps=40, meta_batch=4, n_bags=1).fit(kb))
    labels = np.full(X.shape[0], -1)
    labels[::8] = y[::8]
    recs = rec.recommend(X, top=3, labels=labels)
    assert rec.selector.last_adaptation_["labels"] == int((labels >= 0).sum())
    assert len(rec.selector.last_adaptation_["observed"]) >= 3
    assert recs[0].predicted_score >= recs[-1].predicted_score


def test_stale_weights_are_refitted_with_a_note(kb_dir, tmp_path):
    from metaclust_automl.knowledge_base import KnowledgeBase
    from metaclust_automl.selectors.state import kb_fingerprint

    kb = KnowledgeBase.load(kb_dir)
    changed = kb.subset(np.arange(len(kb.tasks) - 1))
    changed.save(tmp_path / "kb2")
    import shutil

    shutil.copytree(kb_dir / "selectors", tmp_path / "kb2" / "selectors")  # weights of the old KB
    kb2 = KnowledgeBase.load(tmp_path / "kb2")
    sel = load_selector("knn", kb2)  # cheap: refitted silently
    assert sel.fingerprint_ == kb_fingerprint(kb2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from metaclust_automl.selectors.maml import MAMLSelector

        MAMLSelector(steps=5, meta_batch=2, n_bags=1).fit(kb).save(tmp_path / "kb2" / "selectors" / "maml")
        import metaclust_automl.default_plugins.selectors as builtin

        orig = builtin._maml
        builtin._maml = lambda: MAMLSelector(steps=5, meta_batch=2, n_bags=1)
        try:
            from metaclust_automl import plugins

            plugins.reset()
            load_selector("maml", kb2)
        finally:
            builtin._maml = orig
            plugins.reset()
    assert any("different knowledge base" in str(w.message) for w in caught)


# -- command line -----------------------------------------------------------------------

def test_cli_recommend_json(cli, kb_dir, table):
    path, _, _ = table
    code, out, err = cli("recommend", path, "--kb", kb_dir, "--selector", "knn", "--top", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list) and 1 <= len(data) <= 3
    for i, item in enumerate(data, 1):
        assert item["rank"] == i
        assert {"rank", "algorithm", "params", "predicted_score", "resolved", "reason"} <= set(item)
        assert isinstance(item["params"], dict) and isinstance(item["predicted_score"], float)


def test_cli_recommend_table(cli, kb_dir, table):
    path, _, _ = table
    code, out, _ = cli("recommend", path, "--kb", kb_dir, "--selector", "knn", "--top", "2", "--budget", "1")
    assert code == 0
    assert "predicted ARI" in out and "rank" in out


def test_cli_recommend_with_labels_file(cli, kb_dir, table, tmp_path):
    path, _, y = table
    lab = tmp_path / "labels.csv"
    known = np.where(np.arange(y.size) % 10 == 0, y, -1)
    np.savetxt(lab, known, fmt="%d", header="label", comments="")
    code, out, err = cli("recommend", path, "--kb", kb_dir, "--selector", "knn", "--labels", lab, "--json")
    assert code == 0, err  # knn does not adapt itself: the recommender re-ranks with the labels
    assert json.loads(out)[0]["rank"] == 1


@pytest.mark.parametrize("args, message", [
    (["recommend", "missing.csv"], "not found"),
    (["recommend", "{data}", "--selector", "nope"], "unknown selector"),
    (["recommend", "{data}", "--kb", "{tmp}/nokb"], "knowledge base"),
    (["recommend", "{data}", "--top", "0"], "error"),
    (["recommend", "{data}", "--labels", "{tmp}/none.csv"], "not found"),
    (["cluster", "{data}", "--set", "n_clusters=3"], "--set needs --algorithm"),
])
def test_cli_bad_inputs_one_line_errors(cli, kb_dir, table, tmp_path, args, message):
    path, _, _ = table
    args = [a.format(data=path, tmp=tmp_path) for a in args]
    if "--kb" not in args:
        args += ["--kb", str(kb_dir)]
    if "--selector" not in args:
        args += ["--selector", "knn"]
    code, out, err = cli(*args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_cluster_without_algorithm(cli, kb_dir, table, tmp_path):
    path, X, _ = table
    out_csv = tmp_path / "labels.csv"
    code, out, err = cli("cluster", path, "-o", out_csv, "--kb", kb_dir, "--selector", "knn", "--json")
    assert code == 0, err
    data = json.loads(out)
    for key in ("algorithm", "params", "resolved", "n_clusters", "cluster_sizes", "selector", "predicted_score"):
        assert key in data
    labels = np.loadtxt(out_csv, skiprows=1, dtype=int)
    assert labels.shape == (X.shape[0],)
    assert sum(data["cluster_sizes"].values()) == X.shape[0]


def test_cli_cluster_budget_and_plot(cli, kb_dir, table, tmp_path):
    path, X, _ = table
    png = tmp_path / "view.png"
    code, out, err = cli("cluster", path, "--kb", kb_dir, "--selector", "knn", "--budget", "2", "--plot", png)
    assert code == 0, err
    assert "clusters" in out and "chosen by the knn selector" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_cli_cluster_with_algorithm_unchanged(cli, table, tmp_path):
    path, _, _ = table
    code, out, _ = cli("cluster", path, "--algorithm", "kmeans", "--set", "n_clusters=3", "--json")
    assert code == 0
    assert json.loads(out)["n_clusters"] == 3


def test_cli_train_selectors(cli, kb_dir, tmp_path):
    code, out, err = cli("train-selectors", "--kb", kb_dir, "--out", tmp_path / "w", "--selector", "knn", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report[0]["selector"] == "knn"
    from metaclust_automl.knowledge_base import KnowledgeBase
    from metaclust_automl.selectors.knn import KNNSelector

    KNNSelector.load(tmp_path / "w" / "knn", KnowledgeBase.load(kb_dir))
    code, _, err = cli("train-selectors", "--kb", kb_dir, "--out", tmp_path / "w", "--selector", "nope")
    assert code != 0 and "unknown selector" in err


def test_lazy_exports_keep_import_light():
    import subprocess
    import sys

    code = ("import sys, metaclust_automl as m; assert 'torch' not in sys.modules; "
            "assert 'metaclust_automl.recommend' not in sys.modules; "
            "assert m.Recommender.__name__ == 'Recommender' and m.MetaClusterer.__name__ == 'MetaClusterer'; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_labels_rerank_any_selector(rec, table):
    """knn does not learn from labels; the Recommender scores its best few configurations on
    the known rows instead. Labels that agree with the second choice make it the first."""
    from metaclust_automl.metrics import ari

    _, X, _ = table
    recs = rec.recommend(X, top=len(rec.kb.configs))  # the tiny KB's 9: all are scored on the labels
    first = rec.run_best(X, recs[0], seed=0).labels
    # the best-ranked configuration whose clustering differs from the first one's
    other = next(r for r in recs[1:] if ari(first, rec.run_best(X, r, seed=0).labels) < 0.8)
    truth = rec.run_best(X, other, seed=0).labels
    labels = np.full(X.shape[0], -1)
    labels[::4] = truth[::4]
    again = rec.recommend(X, top=2, labels=labels)
    top = again[0]
    assert top.config_id != recs[0].config_id
    assert ari(truth, rec.run_best(X, top, seed=0).labels) > 0.99  # other, or one that clusters the same
    assert "known labels" in top.reason


def test_estimator_accepts_a_loaded_knowledge_base(kb_dir):
    from metaclust_automl.estimator import MetaClusterer
    from metaclust_automl.knowledge_base import KnowledgeBase

    X, _ = make_task("blobs2", 100, seed=3)
    kb = KnowledgeBase.load(kb_dir)
    a = MetaClusterer(selector="knn", kb=kb).fit(X)
    b = MetaClusterer(selector="knn", kb=kb_dir).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_cluster_falls_back_when_the_best_configuration_fails(rec, table, monkeypatch):
    from metaclust_automl.errors import BackendError

    _, X, _ = table
    recs = rec.recommend(X, top=3)
    real = rec.run_best

    def flaky(X_, r, seed=0):
        if r.rank == 1:
            raise BackendError("out of memory")
        return real(X_, r, seed=seed)

    monkeypatch.setattr(rec, "run_best", flaky)
    chosen, run, ranked = rec.cluster(X)
    assert chosen.rank == 2 and chosen.config_id == recs[1].config_id
    assert any("rank 1" in note and "out of memory" in note for note in run.notes)
    assert run.labels.shape == (X.shape[0],)


def test_metafeatures_beyond_the_kb_range_are_moved_to_its_edge(rec, table):
    from metaclust_automl import metafeatures
    from metaclust_automl.recommend import clip_to_kb_range, metafeature_vector

    M = np.array([[0.0, 1.0, np.nan], [2.0, 3.0, np.nan]])
    out = clip_to_kb_range(np.array([5.0, 2.0, 7.0]), M)
    np.testing.assert_array_equal(out, [2.0, 2.0, 7.0])  # above the range, inside it, no range known
    _, X, _ = table
    big = np.vstack([X] * 40) + np.random.default_rng(0).normal(scale=1e-3, size=(40 * X.shape[0], X.shape[1]))
    vec, missing = metafeature_vector(rec.kb, metafeatures.extract(big, seed=0))
    assert not missing
    lo, hi = np.nanmin(rec.kb.M, axis=0), np.nanmax(rec.kb.M, axis=0)
    finite = np.isfinite(vec) & np.isfinite(lo)
    assert np.all(vec[finite] >= lo[finite]) and np.all(vec[finite] <= hi[finite])
    log_n = rec.kb.metafeature_names.index("general.log_n")
    assert vec[log_n] == hi[log_n]  # 9,600 rows: more than any task of the tiny knowledge base
