"""Meta-training: a tiny corpus builds a valid knowledge base; resume; user corpora; guards."""
from __future__ import annotations

import gzip
import json
import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs, make_moons

from metaclust_automl.corpus import LabelledTask
from metaclust_automl.errors import ConfigError
from metaclust_automl.knowledge_base import STATUS, KnowledgeBase
from metaclust_automl.training.kb import build_knowledge_base

FAST = dict(trials=2, backends=["kmeans", "dbscan"], portfolio_size=4, time_limit=30, progress=False)


def tiny_tasks() -> list[LabelledTask]:
    out = []
    for i in range(3):
        X, y = make_blobs(n_samples=120, centers=2 + i, n_features=2 + i, random_state=i)
        out.append(LabelledTask(f"blobs{i}", X, y, group="blobs"))
    X, y = make_moons(120, noise=0.05, random_state=0)
    out.append(LabelledTask("moons", X, y, group="moons"))
    return out


def finished_trials(url: str) -> dict[str, int]:
    import optuna

    storage = optuna.storages.RDBStorage(url)
    return {s.study_name: len(storage.get_all_trials(s._study_id)) for s in storage.get_all_studies()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    url = f"sqlite:///{root / 'optuna.db'}"
    kb = build_knowledge_base(tiny_tasks(), root / "kb", storage=url, sampler="qmc", **FAST)
    return root, url, kb


def test_tiny_corpus_builds_a_valid_knowledge_base(built):
    root, _, kb = built
    loaded = KnowledgeBase.load(root / "kb")
    assert loaded.task_ids == ["blobs0", "blobs1", "blobs2", "moons"]
    T, K = len(loaded.tasks), len(loaded.configs)
    assert 1 <= K <= 4
    assert loaded.P["ari"].shape == (T, K) and loaded.C.shape == (T, K, len(loaded.index_names))
    assert loaded.M.shape == (T, len(loaded.metafeature_names)) and np.isfinite(loaded.M).all()
    assert (loaded.status == STATUS["ok"]).all() and (loaded.seconds > 0).all()
    assert np.nanmax(loaded.P["ari"]) > 0.5  # two-blob tasks are easy for someone
    assert {c.algorithm for c in loaded.configs} <= {"kmeans", "dbscan"}
    info = loaded.info
    assert info["sampler"] == "qmc" and info["trials"] == 2 and info["seed"] == 0
    best = info["studies"]["blobs0"]["kmeans"]
    assert best["trials"] == 2 and set(best["best_params"]) == {"k_rule", "preprocess"}  # k itself is not searched
    manifest = json.loads((root / "kb" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["package_version"]
    assert loaded.content_digest() == kb.content_digest()
    # storage beside the KB, never inside it
    assert sorted(p.name for p in (root / "kb").iterdir()) == ["arrays.npz", "manifest.json"]


def test_rerun_resumes_without_repeating_trials(built, capsys):
    root, url, kb = built
    before = finished_trials(url)
    again = build_knowledge_base(tiny_tasks(), root / "kb2", storage=url, sampler="qmc", **FAST)
    assert finished_trials(url) == before  # nothing new was run
    counts = again.info["build"]["counts"]
    assert counts["search"]["run"] == 0 and counts["search"]["already_finished"] == 4 * 2 * 2
    assert counts["portfolio"]["run"] == 0
    assert again.content_digest() == kb.content_digest()


def test_more_trials_tops_up_each_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    tasks = tiny_tasks()[:2]
    opts = dict(FAST, backends=["kmeans"])
    build_knowledge_base(tasks, tmp_path / "a", storage=url, sampler="qmc", **dict(opts, trials=2))
    kb = build_knowledge_base(tasks, tmp_path / "b", storage=url, sampler="qmc", **dict(opts, trials=3))
    search = kb.info["build"]["counts"]["search"]
    assert search["already_finished"] == 4 and search["run"] == 2
    trials = finished_trials(url)
    assert all(v == 3 for k, v in trials.items() if "/search/" in k)


def test_interrupted_claims_are_taken_over(tmp_path):
    """A RUNNING trial left by a dead worker on this host frees its slot at once."""
    import socket

    import optuna
    from optuna.trial import FrozenTrial, TrialState

    from metaclust_automl.training.kb.slots import OWNER, SLOT, claim, ensure_study, scan

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}")
    sid, new = ensure_study(storage, "s", {"seed": 0})
    assert new
    import datetime as dt
    dead = FrozenTrial(number=0, state=TrialState.RUNNING, value=None, datetime_start=dt.datetime.now(),
                       datetime_complete=None, params={}, distributions={},
                       user_attrs={SLOT: 0, OWNER: f"{socket.gethostname()}:999999:dead"}, system_attrs={},
                       intermediate_values={}, trial_id=0)
    storage.create_new_trial(sid, template_trial=dead)
    slot, _ = claim(storage, sid, 2, lease_s=3600)
    assert slot == 0  # the dead worker's slot, not slot 1
    assert scan(storage, sid, 2, 3600).running == {}  # our own claim is not "someone else's"
    with pytest.raises(ConfigError, match="seed"):
        ensure_study(storage, "s", {"seed": 1})


def test_two_workers_give_the_same_knowledge_base_as_one(tmp_path, built):
    _, _, one = built
    two = build_knowledge_base(tiny_tasks(), tmp_path / "kb", storage=f"sqlite:///{tmp_path / 'two.db'}",
                               sampler="qmc", jobs=2, **FAST)
    assert two.content_digest() == one.content_digest()
    assert two.info["build"]["jobs"] == 2


def _write_user_corpus(root) -> None:
    X, y = make_blobs(n_samples=90, centers=3, n_features=2, random_state=1)
    df = pd.DataFrame(X, columns=["a", "b"])
    df["cls"] = y
    df.to_csv(root / "table.csv", index=False)
    X, y = make_blobs(n_samples=90, centers=2, n_features=3, random_state=2)
    np.savez(root / "arrays.npz", X=X, y=y)
    X, y = make_blobs(n_samples=90, centers=2, n_features=2, random_state=3)
    sub = root / "suite"
    sub.mkdir()
    with gzip.open(sub / "g.data.gz", "wt") as fh:
        fh.write("\n".join(" ".join(f"{v:.6f}" for v in row) for row in X) + "\n")
    labels = y + 1
    labels[:5] = 0  # noise: not scored
    with gzip.open(sub / "g.labels0.gz", "wt") as fh:
        fh.write("\n".join(str(v) for v in labels) + "\n")


def test_user_directory_corpus_builds_from_the_cli(tmp_path, cli):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_user_corpus(corpus)
    code, out, err = cli("meta-train", corpus, "-o", tmp_path / "kb", "--trials", "2", "--backends", "kmeans",
                         "--portfolio-size", "3", "--label-column", "cls", "--no-progress", "--selectors", "knn")
    assert code == 0, err
    kb = KnowledgeBase.load(tmp_path / "kb")
    # the knowledge base comes out ready to use: its selectors are trained into KB/selectors
    from metaclust_automl.selectors.knn import KNNSelector

    KNNSelector.load(tmp_path / "kb" / "selectors" / "knn", kb)
    assert "ready: metaclust recommend TABLE --kb" in err
    assert sorted(kb.task_ids) == ["arrays", "suite/g", "table"]
    assert kb.info["corpus"]["source"] == "directories"
    assert (tmp_path / "kb.work" / "optuna.db").exists()  # the default storage
    assert "3 tasks" in out
    assert "search: 6 trials; 0 already finished (skipped), 6 run now" in err
    n_configs = len(kb.configs)  # a portfolio unit is a task run with every configuration
    assert (f"portfolio: 3 tasks x {n_configs} configurations; 0 tasks already finished (skipped), "
            f"3 tasks run now ({3 * n_configs} runs)") in err


@pytest.mark.parametrize("args, message", [
    (["--backends", "nosuch"], "unknown algorithm 'nosuch'"),
    (["--sampler", "grid"], "--sampler must be tpe or qmc"),
    (["--trials", "0"], "--trials must be a positive integer"),
    (["--storage", "nosuchdb://x/y"], "storage"),
])
def test_cli_errors_are_one_line(tmp_path, cli, args, message):
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write_user_corpus(corpus)
    code, out, err = cli("meta-train", corpus, "--out", tmp_path / "kb", "--label-column", "cls",
                         "--no-progress", *args)
    assert code != 0
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "kb").exists()


def test_cli_missing_corpus_and_output_dir(tmp_path, cli):
    code, _, err = cli("meta-train", tmp_path / "nope", "--out", tmp_path / "kb")
    assert code != 0 and "corpus not found" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("meta-train", "--limit", "2", "--out", tmp_path / "no" / "kb")
    assert code != 0 and "does not exist" in err and len(err.strip().splitlines()) == 1


# -- guards: hanging and failing backends ------------------------------------------------

class _Sleepy:
    """A plugin backend that hangs on tables of more than 100 rows and works on smaller ones."""

    @staticmethod
    def backend():
        from metaclust_automl.backends.partitional import KMeansBackend

        class Sleepy(KMeansBackend):
            name = "sleepy"

            def cluster(self, X, params, seed):
                if X.shape[0] > 100:
                    time.sleep(600)
                return super().cluster(X, params, seed)

        return Sleepy()


@pytest.fixture
def sleepy_plugin():
    from metaclust_automl import plugins
    from metaclust_automl.hookspecs import hookimpl

    class Plugin:
        @hookimpl
        def register_backends(self, register):
            register(_Sleepy.backend())

    plugins.reset()
    pm = plugins.get_plugin_manager()
    pm.register(Plugin(), name="sleepy-test")
    plugins._distributions["sleepy-test"] = "sleepy-plugin"
    yield
    plugins._distributions.pop("sleepy-test", None)
    plugins.reset()


def test_hanging_backend_is_stopped_and_recorded_as_timed_out(tmp_path, sleepy_plugin):
    tasks = [LabelledTask("small", *make_blobs(n_samples=80, centers=2, random_state=0)),
             LabelledTask("big", *make_blobs(n_samples=150, centers=2, random_state=1))]
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kb = build_knowledge_base(tasks, tmp_path / "kb", trials=2, backends=["sleepy"], portfolio_size=2,
                                  time_limit=1.0, sampler="qmc", progress=False)
    assert time.perf_counter() - start < 120  # not the 600 s the backend wanted
    studies = kb.info["studies"]
    assert studies["big"]["sleepy"]["timeout"] == 2 and studies["big"]["sleepy"]["best_ari"] is None
    assert studies["small"]["sleepy"]["timeout"] == 0
    big = kb.task_ids.index("big")
    assert (kb.status[big] == STATUS["timeout"]).all()
    assert np.isnan(kb.P["ari"][big]).all() and (kb.performance()[big] == 0).all()
    assert (kb.status[kb.task_ids.index("small")] == STATUS["ok"]).all()
    reports = [str(w.message) for w in caught if "sleepy" in str(w.message)]
    assert len(reports) == 1 and "sleepy-plugin" in reports[0] and "timed out" in reports[0]


def test_guard_survives_hangs_crashes_and_exceptions():
    from metaclust_automl.running.backend_runner import checked_run
    from metaclust_automl.running.worker import Guard

    X, _ = make_blobs(n_samples=60, centers=2, random_state=0)
    with Guard(time_limit=1.0) as guard:
        out = guard.call("metaclust_automl.running.worker:sleep_job", {"seconds": 60})
        assert out.status == "timeout" and "1 s" in out.error
        out = guard.call("metaclust_automl.running.worker:exit_job", {"code": 3})
        assert out.status == "failed" and "died" in out.error
        job = "metaclust_automl.running.backend_runner:run_job"
        out = guard.call(job, {"algorithm": "kmeans", "params": {"n_clusters": 0}, "seed": 0}, {"X": X})
        assert out.status == "failed" and "n_clusters" in out.error
        out = guard.call(job, {"algorithm": "kmeans", "params": {"n_clusters": 2}, "seed": 0}, {"X": X})
        run = checked_run("kmeans", out, 60)
        assert out.ok and run.n_clusters == 2 and run.labels.shape == (60,)
        assert guard.restarts == 2


def test_bad_arguments_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="--jobs"):
        build_knowledge_base(tiny_tasks(), tmp_path / "kb", jobs=0, progress=False)
    with pytest.raises(ConfigError, match="sampler"):
        build_knowledge_base(tiny_tasks(), tmp_path / "kb", sampler="grid", progress=False)
    assert not os.path.exists(tmp_path / "kb")


def test_journal_file_storage_gives_the_same_knowledge_base(tmp_path, built):
    _, _, one = built
    kb = build_knowledge_base(tiny_tasks(), tmp_path / "kb", storage=f"journal:{tmp_path / 'mt.log'}",
                              sampler="qmc", **FAST)
    assert (tmp_path / "mt.log").stat().st_size > 0
    assert kb.content_digest() == one.content_digest()


def test_cli_unknown_excluded_family_is_one_line(tmp_path, cli):
    code, _, err = cli("meta-train", "--out", tmp_path / "kb", "--exclude-families", "wine,nosuch")
    assert code != 0 and "unknown corpus family 'nosuch'" in err and len(err.strip().splitlines()) == 1
