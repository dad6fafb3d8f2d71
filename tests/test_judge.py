"""The probe judge: features, fitting, its rows file and its place in the ranking."""
from __future__ import annotations

import json

import numpy as np
import pytest

from metaclust_automl.errors import KnowledgeBaseError
from metaclust_automl.selectors import judge as J

IDX = {"silhouette": 0.5, "calinski_harabasz": 0.3, "davies_bouldin": 1.0, "n_clusters": 3.0,
       "noise_share": 0.0, "dbcv": 0.2}


def test_agreement_is_symmetric_one_on_the_diagonal_and_zero_for_a_failed_run():
    a = np.array([0, 0, 1, 1, 2, 2])
    A = J.agreement([a, a[::-1].copy(), None, (a + 1) % 3])
    assert A.shape == (4, 4) and np.allclose(A, A.T) and np.allclose(np.diag(A), 1.0)
    assert A[0, 3] == pytest.approx(1.0)  # the same partition, relabelled
    assert A[0, 2] == 0.0 and A[2, 3] == 0.0


def test_candidate_features_describe_each_candidate_relative_to_the_set():
    A = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    F = J.candidate_features([0.8, 0.7, 0.6], [IDX, {**IDX, "silhouette": 0.7}, IDX], A)
    assert F.shape == (3, 24)
    assert F[0, 0] == 0.0 and F[2, 0] == pytest.approx(-0.2)  # score minus the best
    assert list(F[:, 2]) == [0.0, 1.0, 2.0]  # rank
    assert F[0, 3] == pytest.approx(0.5) and F[2, 4] == pytest.approx(0.2)  # mean / max agreement
    assert F[1, 12] == pytest.approx(0.0) and F[0, 12] == pytest.approx(-0.2)  # silhouette minus the set's best
    with pytest.raises(ValueError):
        J.candidate_features([0.5], [IDX], np.eye(1))


def _sets(rng: np.random.Generator, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Probe sets where the candidate the others agree with is the good one, whatever its rank."""
    feats, targets = [], []
    for _ in range(n):
        m = int(rng.integers(2, 6))
        good = int(rng.integers(m))
        A = np.full((m, m), 0.1)
        A[good, :] = A[:, good] = 0.8
        np.fill_diagonal(A, 1.0)
        feats.append(J.candidate_features(list(rng.uniform(0.4, 0.6, m)), [IDX] * m, A))
        targets.append(np.where(np.arange(m) == good, 0.9, 0.3))
    return feats, targets


def test_a_fitted_judge_finds_the_candidate_its_training_sets_favour():
    rng = np.random.default_rng(0)
    judge = J.Judge.fit(*_sets(rng, 200), alpha=1.0)
    feats, targets = _sets(rng, 100)
    hits = [targets[s][judge.order(feats[s])[0]] == 0.9 for s in range(100)]
    assert np.mean(hits) > 0.9
    assert sorted(judge.order(feats[0])) == list(range(len(targets[0])))


def _rows(ids: list[str]) -> dict:
    A = [[1.0, 0.8, 0.1], [0.8, 1.0, 0.1], [0.1, 0.1, 1.0]]
    return {"format": J.ROWS_FORMAT, "version": 1, "tasks": [
        {"id": i, "group": "g", "configs": ["a", "b", "c"], "scores": [0.6, 0.5, 0.4],
         "indices": [IDX, IDX, IDX], "agree": A, "ari": [0.7, 0.8, 0.1]} for i in ids]}


def test_read_rows_refuses_files_that_are_not_judge_rows(tmp_path):
    good = tmp_path / "rows.json"
    good.write_text(json.dumps(_rows(["t1", "t2"])))
    assert len(J.read_rows(good)["tasks"]) == 2
    for bad in ({"format": "other", "tasks": []}, {**_rows(["t"]), "tasks": [{"id": "t", "scores": [1.0]}]},
                {**_rows(["t"]), "tasks": [{**_rows(["t"])["tasks"][0], "agree": [[1.0]]}]}):
        p = tmp_path / "bad.json"
        p.write_text(json.dumps(bad))
        with pytest.raises(KnowledgeBaseError):
            J.read_rows(p)


class _KB:
    def __init__(self, ids: list[str]) -> None:
        self.task_ids = ids


def test_for_kb_fits_on_the_tasks_the_knowledge_base_holds(tmp_path):
    p = tmp_path / "rows.json"
    ids = [f"t{i}" for i in range(40)]
    p.write_text(json.dumps(_rows(ids)))
    held = J.for_kb(_KB(ids[:35]), p)
    assert held is not None and held.sets == 35 * 2  # sizes 2 and 3 of each of its 35 tasks
    elsewhere = J.for_kb(_KB(["x1", "x2"]), p)  # built elsewhere: every row
    assert elsewhere is not None and elsewhere.sets == 40 * 2
    assert J.for_kb(_KB(ids), tmp_path / "missing.json") is None


def test_the_shipped_rows_are_readable_and_held_out_per_group():
    path = J.rows_path()
    if not path.is_file():
        pytest.skip("no shipped judge rows")
    rows = J.read_rows(path)
    from metaclust_automl.knowledge_base import load_default

    kb = load_default()
    assert {r["id"] for r in rows["tasks"]} <= set(kb.task_ids)
    assert len(rows["tasks"]) >= 0.9 * len(kb.tasks)
    configs = {c.id for c in kb.configs}
    assert all(set(r["configs"]) <= configs for r in rows["tasks"])


# -- in the ranking ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from sklearn.datasets import make_blobs
    from tinykb_dir import tiny_kb_dir

    X, _ = make_blobs(n_samples=240, centers=3, random_state=7)
    return tiny_kb_dir(), X


def test_with_a_budget_the_judge_orders_the_knn_selectors_first_candidates(tiny):
    from metaclust_automl.recommend import Recommender

    kb_dir, X = tiny
    rec = Recommender.default(selector="knn", kb=kb_dir)
    recs = rec.recommend(X, top=3, budget=3)
    judged = rec.session.judged
    assert len(judged) == 3 and rec.session.probes == 3
    first = rec.kb.configs[judged[0]].id
    assert recs[0].config_id == first and "probe judge ranks it 1 of the 3" in recs[0].reason
    assert rec.session.indices[judged[0]]["n_clusters"] >= 2 or all(
        rec.session.indices[c]["n_clusters"] < 2 for c in judged)
    rec.recommend(X, top=3, budget=0)
    assert rec.session.probes == 0 and rec.session.judged == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_without_the_judge_or_with_a_selector_that_probes_itself_the_selector_spends_the_budget(tiny):
    from metaclust_automl.recommend import Recommender

    kb_dir, X = tiny
    off = Recommender.default(selector="knn", kb=kb_dir)
    off.judge = False
    off.recommend(X, top=3, budget=3)
    assert off.session.judged == [] and 1 <= off.session.probes <= 3
    rl2 = Recommender.default(selector="rl2", kb=kb_dir)
    rl2.recommend(X, top=3, budget=3)
    assert rl2.session.judged == []


def test_a_degenerate_candidate_ranks_last():
    judge = J.Judge(np.zeros(24), np.ones(24), np.zeros(24), 0.0)
    F = J.candidate_features([0.9, 0.5], [{**IDX, "n_clusters": 1.0}, IDX], np.eye(2))
    judge.weights[1] = 1.0  # prefers the higher score: the one-cluster candidate
    assert judge.order(F) == [0, 1] and judge.order(F, [{"n_clusters": 1.0}, IDX]) == [1, 0]


def test_the_chosen_probe_run_is_reused_and_is_what_running_it_again_gives(tiny):
    from metaclust_automl.recommend import Recommender

    kb_dir, X = tiny
    rec = Recommender.default(selector="knn", kb=kb_dir)
    chosen, run, _ = rec.cluster(X, budget=3)
    c = next(i for i, cfg in enumerate(rec.kb.configs) if cfg.id == chosen.config_id)
    assert rec.session.runs.get(c) is run  # the whole table was the probe sample
    again = rec.run_best(X, chosen)
    assert np.array_equal(again.labels, run.labels) and again.resolved == run.resolved


def test_judge_rows_are_built_from_held_out_candidates_run_on_the_task(tmp_path):
    from metaclust_automl.corpus.builtin import load_builtin_task
    from metaclust_automl.selectors.tinykb import build_kb
    from metaclust_automl.training.judge_rows import build_rows, save_rows

    ids = ["syn/blobs-iso/n400-d2-k3-s0", "syn/blobs-iso/n400-d5-k3-s0",
           "syn/blobs-iso/n400-d2-k8-s0", "syn/blobs-iso/n400-d5-k8-s0"]
    tasks = [(i, load_builtin_task(i).X, load_builtin_task(i).y) for i in ids]
    kb = build_kb(tasks)
    for t, g in zip(kb.tasks, ["k3", "k3", "k8", "k8"]):
        t.group = g
    rows = build_rows(kb, progress=False)
    assert rows["missing"] == [] and [r["id"] for r in rows["tasks"]] == ids
    P = kb.performance("ari")
    for t, r in enumerate(rows["tasks"]):
        cs = [next(i for i, c in enumerate(kb.configs) if c.id == cid) for cid in r["configs"]]
        assert len(cs) == J.MAX_CANDIDATES and r["ari"] == pytest.approx(P[t, cs], abs=1e-6)
        A = np.asarray(r["agree"])
        assert np.allclose(A, A.T) and np.allclose(np.diag(A), 1.0)
    path = save_rows(rows, tmp_path / "rows.json")
    assert len(J.read_rows(path)["tasks"]) == 4


def test_train_judge_refuses_a_knowledge_base_whose_tasks_it_cannot_load(tmp_path, cli):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from tinykb_dir import tiny_kb_dir

    out = tmp_path / "rows.json"
    code, _, err = cli("train", "judge", "--kb", tiny_kb_dir(), "-o", out, "--no-progress")
    assert code == 2 and "could be loaded" in err and not out.exists()


def test_a_configuration_probed_on_a_sample_of_a_bigger_table_runs_with_the_k_its_probe_found():
    from types import SimpleNamespace

    from sklearn.datasets import make_blobs

    from metaclust_automl.recommend.ranking import TableSession
    from metaclust_automl.running.backend_runner import BackendRunner

    X, _ = make_blobs(n_samples=300, centers=4, random_state=3)
    kb = SimpleNamespace(configs=[
        SimpleNamespace(algorithm="kmeans", params={"k_rule": "silhouette", "n_clusters": None, "k_max": 8}),
        SimpleNamespace(algorithm="hdbscan", params={"min_cluster_size_frac": 0.05})])
    runner = BackendRunner(60.0)
    for rows, sampled in ((100, True), (2000, False)):
        session = TableSession(kb=kb, X=X, runner=runner, seed=0, probe_rows=rows, budget=2)
        runner.new_table(X)
        try:
            session.probe(0)
            session.probe(1)
        finally:
            runner.release()
        k = session.resolved[0]["n_clusters"]
        assert 2 <= k <= 8 and session.indices[0]["n_clusters"] == k
        # a sample of a bigger table: its k is fixed for the whole table; the whole table
        # as the sample: the scale-free parameters (the probe's run is reused as it is)
        assert session.probed_params(0) == {**kb.configs[0].params, "n_clusters": k if sampled else None}
        # a scale parameter resolved on the sample (HDBSCAN's cluster size) is never carried over
        assert session.probed_params(1) == kb.configs[1].params
