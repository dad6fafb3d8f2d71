"""A plugin's backend that raises or hangs never takes down recommend, cluster or evaluate:
it runs in a guarded worker with a time limit, is reported once (one warning line naming its
distribution), and the next candidate runs. When nothing can run, the library raises a
BackendError with a one-line message.

The plugins are installed the way pip leaves them (a .dist-info with entry points on
sys.path), and a knowledge base built from the tiny one ranks their configurations first.
"""
from __future__ import annotations

import csv
import json
import textwrap
import warnings

import numpy as np
import pytest

from metaclust_automl import plugins
from metaclust_automl.running import reporting
from metaclust_automl.errors import BackendError
from metaclust_automl.knowledge_base import STATUS, Config, KnowledgeBase
from metaclust_automl.generators.shapes import make_task

from test_plugins import fake_distribution
from tables import blobs_csv
from tinykb_dir import tiny_kb_dir

LIMIT = 1.0  # seconds: the hanging plugin sleeps far longer

PLUGIN_SOURCE = {
    "flaky_boom": """
        from metaclust_automl.backends import Backend
        from metaclust_automl.hookspecs import hookimpl
        from metaclust_automl.params import Param

        class BoomBackend(Backend):
            name = "boom"
            description = "raises inside cluster (a broken plugin)"
            params = (Param("n_clusters", "int", default=3, low=1, high=1000, search=False),)

            def cluster(self, X, params, seed):
                if params["n_clusters"] == 1:  # the one setting that works: labels by sign
                    return (X[:, 0] > 0).astype(int)
                raise RuntimeError("boom inside the plugin")

        @hookimpl
        def register_backends(register):
            register(BoomBackend())
    """,
    "flaky_hang": """
        import time

        import numpy as np
        from metaclust_automl.backends import Backend
        from metaclust_automl.hookspecs import hookimpl
        from metaclust_automl.params import Param

        class HangBackend(Backend):
            name = "hang"
            description = "never returns (a hanging plugin)"
            params = (Param("n_clusters", "int", default=3, low=1, high=1000, search=False),)

            def cluster(self, X, params, seed):
                time.sleep(120)
                return np.zeros(X.shape[0], dtype=int)

        @hookimpl
        def register_backends(register):
            register(HangBackend())
    """,
}
DISTRIBUTION = {"boom": "metaclust-boom", "hang": "metaclust-hang"}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Both plugins installed; the registry and the once-per-process reports start afresh."""
    site = tmp_path / "site"
    site.mkdir()
    for module, source in PLUGIN_SOURCE.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    fake_distribution(site, DISTRIBUTION["boom"], {"boom": "flaky_boom"})
    fake_distribution(site, DISTRIBUTION["hang"], {"hang": "flaky_hang"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(reporting, "_reported", set())
    plugins.reset()
    reg = plugins.get_registry()
    assert reg.source("backend", "boom") == "metaclust-boom"
    assert reg.source("backend", "hang") == "metaclust-hang"
    yield reg
    plugins.reset()


def kb_with(plugin_algorithms: list[str], *, keep_builtin: bool = True) -> KnowledgeBase:
    """The tiny knowledge base plus one configuration per plugin backend, scored best on
    every task (so every selector ranks them first, in the order given)."""
    base = KnowledgeBase.load(tiny_kb_dir())
    T = len(base.tasks)
    keep = list(range(len(base.configs))) if keep_builtin else []
    extra = [Config(id=f"z-{alg}", algorithm=alg, params={"n_clusters": 3}) for alg in plugin_algorithms]
    top = np.linspace(1.0, 0.95, num=max(len(extra), 1))[: len(extra)]
    P = {m: np.hstack([v[:, keep], np.tile(top, (T, 1))]) for m, v in base.P.items()}
    best = int(np.argmax(base.performance("ari").mean(axis=0)))
    C = np.concatenate([base.C[:, keep], np.repeat(base.C[:, [best]], len(extra), axis=1)], axis=1)
    return KnowledgeBase(tasks=list(base.tasks), configs=[base.configs[i] for i in keep] + extra,
                         metafeature_names=list(base.metafeature_names), index_names=list(base.index_names),
                         M=base.M.copy(), P=P, C=C,
                         seconds=np.hstack([base.seconds[:, keep], np.zeros((T, len(extra)))]),
                         status=np.hstack([base.status[:, keep],
                                           np.full((T, len(extra)), STATUS["ok"], dtype=base.status.dtype)]),
                         info=dict(base.info))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs_csv(tmp_path_factory.mktemp("data"), 200, seed=11)


def plugin_warnings(caught, algorithm: str) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)
            and DISTRIBUTION[algorithm] in str(w.message)]


def warning_lines(err: str, algorithm: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:") and DISTRIBUTION[algorithm] in line]


# -- the library ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["boom", "hang"])
def test_recommender_cluster_falls_back_and_reports_once(installed, table, algorithm):
    from metaclust_automl.recommend import Recommender

    _, X, _ = table
    rec = Recommender.default(selector="knn", kb=kb_with([algorithm]), time_limit=LIMIT)
    assert rec.recommend(X, top=3)[0].algorithm == algorithm  # the plugin is the top choice
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chosen, run, _ = rec.cluster(X)
        rec.cluster(X)  # a second table-wide attempt reports nothing new
    assert chosen.algorithm != algorithm and chosen.rank >= 2
    assert run.labels.shape == (X.shape[0],)
    assert any(f"rank 1 ({algorithm})" in note for note in run.notes)
    msgs = plugin_warnings(caught, algorithm)
    assert len(msgs) == 1 and repr(algorithm) in msgs[0]
    assert ("timed out" if algorithm == "hang" else "boom inside the plugin") in msgs[0]
    rec.runner.close()


@pytest.mark.parametrize("algorithm", ["boom", "hang"])
def test_probes_record_the_failure_and_drop_the_plugin(installed, table, algorithm):
    from metaclust_automl.recommend import Recommender

    _, X, _ = table
    rec = Recommender.default(selector="knn", kb=kb_with([algorithm]), time_limit=LIMIT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = rec.recommend(X, top=3, budget=2)
    c = [cfg.algorithm for cfg in rec.kb.configs].index(algorithm)
    assert rec.session.indices[c]["noise_share"] == 1.0  # recorded as a failed probe
    assert algorithm in rec.runner.broken
    assert recs and all(r.algorithm != algorithm for r in recs)
    assert len(plugin_warnings(caught, algorithm)) == 1
    rec.runner.close()


def test_library_raises_backend_error_when_nothing_can_run(installed, table):
    from metaclust_automl.estimator import MetaClusterer
    from metaclust_automl.recommend import Recommender

    _, X, _ = table
    kb = kb_with(["boom", "hang"], keep_builtin=False)
    rec = Recommender.default(selector="knn", kb=kb, time_limit=LIMIT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(BackendError) as err:
            rec.cluster(X)
        with pytest.raises(BackendError):
            MetaClusterer(selector="knn", kb=kb, time_limit=LIMIT).fit(X)
    message = str(err.value)
    assert "\n" not in message and "boom" in message and "hang" in message
    assert len(plugin_warnings(caught, "boom")) == 1 and len(plugin_warnings(caught, "hang")) == 1
    rec.runner.close()


def test_estimator_survives_a_hanging_plugin(installed, table):
    from metaclust_automl.estimator import MetaClusterer

    _, X, _ = table
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        est = MetaClusterer(selector="knn", kb=kb_with(["hang"]), time_limit=LIMIT).fit(X)
    assert est.recommendation_.algorithm != "hang" and est.labels_.shape == (X.shape[0],)


@pytest.mark.parametrize("inherit", [True, False])
def test_a_working_plugin_run_comes_back_from_the_worker(installed, table, monkeypatch, inherit):
    from metaclust_automl.running import backend_runner as isolation

    _, X, _ = table
    monkeypatch.setattr(isolation, "_fork_available", lambda: inherit)  # False: the table is sent
    rows = np.arange(0, X.shape[0], 3)
    with isolation.BackendRunner(LIMIT) as runner:
        runner.new_table(X)
        whole = runner.run("boom", X, {"n_clusters": 1})
        part = runner.run("boom", X, {"n_clusters": 1}, rows=rows)
        assert runner._guard is not None and runner._guard.restarts == 0
    sign = X[:, 0] > 0
    # labels by sign, numbered by first appearance (the base class normalises them)
    np.testing.assert_array_equal(whole.labels, (sign != sign[0]).astype(int))
    np.testing.assert_array_equal(part.labels, (sign[rows] != sign[rows][0]).astype(int))
    assert whole.fitted_rows == X.shape[0] and part.fitted_rows == rows.size


def test_plugins_run_guarded_and_builtins_in_process(installed, table):
    from metaclust_automl.running.backend_runner import BackendRunner

    _, X, _ = table
    with BackendRunner(LIMIT) as runner:
        runner.new_table(X)
        assert runner.isolates("boom") and not runner.isolates("kmeans")
        runner.run("kmeans", X, {"n_clusters": 3})
        assert runner._guard is None  # no worker for a built-in
        with pytest.warns(plugins.PluginWarning, match="metaclust-boom"), pytest.raises(BackendError, match="boom"):
            runner.run("boom", X, {"n_clusters": 3})
        with pytest.raises(BackendError, match="not started again"):  # known broken: no second run
            runner.run("boom", X, {"n_clusters": 2})
        runner.new_table(X.copy())  # another table: tried again (and reported no more)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(BackendError, match="boom inside the plugin"):
                runner.run("boom", X, {"n_clusters": 3})
        assert not plugin_warnings(caught, "boom")


# -- the command line ------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["boom", "hang"])
def test_recommend_with_budget_survives(installed, table, tmp_path, cli, algorithm):
    path, _, _ = table
    kb_dir = kb_with([algorithm]).save(tmp_path / "kb")
    code, out, err = cli("recommend", path, "--kb", kb_dir, "--selector", "knn", "--budget", "2",
                         "--time-limit", LIMIT, "--json")
    assert code == 0, err
    ranked = json.loads(out)
    assert ranked and all(r["algorithm"] != algorithm for r in ranked)
    assert len(warning_lines(err, algorithm)) == 1 and "Traceback" not in err


@pytest.mark.parametrize("algorithm", ["boom", "hang"])
@pytest.mark.parametrize("budget", ["0", "2"])
def test_cluster_without_algorithm_survives(installed, table, tmp_path, cli, algorithm, budget):
    path, X, _ = table
    kb_dir = kb_with([algorithm]).save(tmp_path / "kb")
    labels = tmp_path / "labels.csv"
    code, out, err = cli("cluster", path, "--kb", kb_dir, "--selector", "knn", "--budget", budget,
                         "--time-limit", LIMIT, "-o", labels, "--json")
    assert code == 0, err
    assert json.loads(out)["algorithm"] != algorithm
    assert len(labels.read_text().split()) == 1 + X.shape[0]
    assert len(warning_lines(err, algorithm)) == 1 and "Traceback" not in err


def test_cluster_with_a_plugin_algorithm_fails_in_one_line(installed, table, tmp_path, cli):
    path, _, _ = table
    code, _, err = cli("cluster", path, "-a", "hang", "--time-limit", LIMIT)
    assert code != 0 and "Traceback" not in err
    assert "error:" in err and "metaclust-hang" in err and "--time-limit" in err


@pytest.mark.parametrize("algorithm", ["boom", "hang"])
def test_evaluate_survives(installed, tmp_path, cli, algorithm):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, kind in enumerate(("blobs3", "blobs2")):
        X, y = make_task(kind, 120, seed=20 + i)
        np.savez(corpus / f"{kind}.npz", X=X, y=y)
    kb_dir = kb_with([algorithm]).save(tmp_path / "kb")
    out = tmp_path / "out"
    code, _, err = cli("evaluate", corpus, "--kb", kb_dir, "--selectors", "knn", "--budget", "2",
                       "--time-limit", LIMIT, "--out", out)
    assert code == 0, err
    with open(out / "results.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["method"] in ("knn", "knn@2")]
    assert len(rows) == 4
    for r in rows:
        assert r["error"] == "" and r["algorithm"] != algorithm and -1.0 <= float(r["ari"]) <= 1.0
    assert len(warning_lines(err, algorithm)) == 1 and "Traceback" not in err


def test_time_limit_option_is_checked(table, cli):
    path, _, _ = table
    for command in ("recommend", "cluster"):
        code, _, err = cli(command, path, "--time-limit", "-1")
        assert code == 2 and "--time-limit must be a positive number" in err and "Traceback" not in err
