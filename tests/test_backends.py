"""Built-in backends: valid labels, determinism, parameter errors, noise, scale-free
parameters, the sampling path, the memory guard, and a 10,000 x 10 run of each through
the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from metaclust_automl.backends.assignment import gaussian_labels, nearest_labels, stratified_pool
from metaclust_automl.backends.base import Backend
from metaclust_automl.backends.memory import memory_budget, parse_bytes
from metaclust_automl.default_plugins.backends import BUILTIN_BACKENDS
from metaclust_automl.errors import BackendError, ConfigError

BACKENDS = [cls() for cls in BUILTIN_BACKENDS]
NAMES = [b.name for b in BACKENDS]
#: backends that recover well-separated blobs when told (or finding) their number
RECOVERS_BLOBS = {"kmeans", "gmm", "agglomerative", "birch", "spectral", "hdbscan"}


@pytest.fixture(autouse=True)
def _one_thread():
    # Correctness does not depend on threads; on a busy shared machine OpenMP spin-waits.
    with threadpool_limits(limits=1):
        yield


def k_params(backend: Backend, k: int) -> dict:
    names = backend.space.by_name()
    if "n_clusters" in names:
        return {"n_clusters": k}
    if "n_components" in names:
        return {"n_components": k}
    return {}


@pytest.fixture(scope="module")
def easy():
    X, y = make_blobs(n_samples=400, n_features=3, centers=3, cluster_std=0.5, random_state=1)
    return X, y


@pytest.mark.parametrize("backend", BACKENDS, ids=NAMES)
def test_valid_labels_and_determinism(backend, easy):
    X, y = easy
    run = backend.run(X, k_params(backend, 3), seed=7)
    labels = run.labels
    assert labels.shape == (X.shape[0],) and labels.dtype == np.int64
    found = np.unique(labels[labels >= 0])
    assert np.array_equal(found, np.arange(found.size))  # 0..k-1, no gaps
    assert labels.min() >= -1
    if not backend.finds_noise:
        assert labels.min() >= 0
    assert run.fitted_rows == X.shape[0] and run.assigned_rows == 0 and run.notes == []
    again = backend.run(X, k_params(backend, 3), seed=7)
    np.testing.assert_array_equal(labels, again.labels)
    if backend.name in RECOVERS_BLOBS:
        assert adjusted_rand_score(y, labels) > 0.95


@pytest.mark.parametrize("backend", BACKENDS, ids=NAMES)
def test_parameter_errors(backend):
    with pytest.raises(ConfigError, match="unknown parameter 'nope'"):
        backend.validate({"nope": 1})
    with pytest.raises(ConfigError, match="preprocess"):
        backend.validate({"preprocess": "sideways"})
    for param in backend.params:
        if param.kind in {"int", "float"} and param.low is not None:
            with pytest.raises(ConfigError, match="out of range"):
                backend.validate({param.name: param.low - 1})
        if param.kind == "int":
            with pytest.raises(ConfigError, match="not a valid int"):
                backend.validate({param.name: "many"})


def test_exclusive_parameters():
    from metaclust_automl.backends.density import HDBSCANBackend

    with pytest.raises(ConfigError, match="either min_cluster_size or min_cluster_size_frac"):
        HDBSCANBackend().validate({"min_cluster_size": 5, "min_cluster_size_frac": 0.1})


@pytest.mark.parametrize("name", ["dbscan", "hdbscan", "optics"])
def test_noise_is_minus_one(name, easy):
    X, _ = easy
    X = np.vstack([X, [[100.0, -100.0, 100.0]]])  # a lone outlier far from everything
    backend = next(b for b in BACKENDS if b.name == name)
    labels = backend.run(X, {}, seed=0).labels
    assert labels[-1] == -1
    assert labels.max() >= 0
    if name != "optics":  # OPTICS' xi extraction leaves many rows unassigned by design
        assert (labels >= 0).sum() > X.shape[0] // 2


def test_scale_free_eps_follows_the_data(easy):
    from metaclust_automl.backends.density import DBSCANBackend

    X, _ = easy
    b = DBSCANBackend()
    small = b.run(X, {"eps_quantile": 0.9}, seed=0)
    big = b.run(X * 1000.0, {"eps_quantile": 0.9}, seed=0)
    assert big.resolved["eps"] == pytest.approx(1000.0 * small.resolved["eps"], rel=1e-9)
    np.testing.assert_array_equal(small.labels, big.labels)
    fixed = b.run(X, {"eps": 0.123}, seed=0)
    assert fixed.resolved["eps"] == 0.123


def test_scale_free_sizes_follow_n(easy):
    from metaclust_automl.backends.density import HDBSCANBackend

    X, _ = easy
    run = HDBSCANBackend().run(X, {"min_cluster_size_frac": 0.05}, seed=0)
    assert run.resolved["min_cluster_size"] == round(0.05 * X.shape[0])


@pytest.mark.parametrize("backend", BACKENDS, ids=NAMES)
def test_sampling_path(backend):
    X, y = make_blobs(n_samples=1500, n_features=4, centers=3, cluster_std=0.5, random_state=3)
    run = backend.run(X, k_params(backend, 3), seed=0, max_fit_rows=300)
    assert run.fitted_rows == 300 and run.assigned_rows == 1200
    assert any("random sample of 300 of 1,500 rows" in note for note in run.notes)
    assert run.labels.shape == (1500,)
    again = backend.run(X, k_params(backend, 3), seed=0, max_fit_rows=300)
    np.testing.assert_array_equal(run.labels, again.labels)
    if backend.name in RECOVERS_BLOBS:
        assert adjusted_rand_score(y, run.labels) > 0.95


def test_max_fit_rows_must_be_positive(easy):
    with pytest.raises(ConfigError, match="max_fit_rows"):
        BACKENDS[0].run(easy[0], {}, max_fit_rows=0)


def test_memory_guard_samples_then_refuses(monkeypatch):
    from metaclust_automl.backends.hierarchical import AgglomerativeBackend

    X, _ = make_blobs(n_samples=3000, n_features=3, centers=3, random_state=0)
    b = AgglomerativeBackend()
    monkeypatch.setenv("METACLUST_MEMORY_BUDGET", "16M")  # 8 bytes a pair: about 1,400 rows
    run = b.run(X, {"n_clusters": 3}, seed=0, max_fit_rows=3000)
    assert run.fitted_rows < 1500 and run.fitted_rows + run.assigned_rows == 3000
    assert "exceeds the budget" in run.notes[0] and "METACLUST_MEMORY_BUDGET" in run.notes[0]
    monkeypatch.setenv("METACLUST_MEMORY_BUDGET", "1k")
    with pytest.raises(BackendError, match="would need about .* of memory"):
        b.run(X, {"n_clusters": 3}, seed=0)
    monkeypatch.setenv("METACLUST_MEMORY_BUDGET", "lots")
    with pytest.raises(ConfigError, match="memory size"):
        memory_budget()


def test_memory_guard_sees_a_huge_eps(monkeypatch):
    from metaclust_automl.backends.density import DBSCANBackend

    X = np.random.default_rng(0).normal(size=(3000, 3))
    b = DBSCANBackend()
    small = b.estimate_memory(X, b.validate({}))
    huge = b.estimate_memory(X, b.validate({"eps": 1e6}))  # everyone is everyone's neighbour
    assert huge >= 24 * 3000 * 3000 > 50 * small
    monkeypatch.setenv("METACLUST_MEMORY_BUDGET", "64M")
    run = b.run(X, {"eps": 1e6}, seed=0)
    assert run.fitted_rows < 3000 and "exceeds the budget" in run.notes[0]
    assert run.n_clusters == 1


def test_plugin_without_limits_is_guarded_by_its_cost_class(monkeypatch):
    class Quadratic(Backend):
        name = "quad"
        cost = "quadratic"

        def cluster(self, X, params, seed):
            return (X[:, 0] > np.median(X[:, 0])).astype(int)

    X = np.random.default_rng(0).normal(size=(2000, 2))
    monkeypatch.setenv("METACLUST_MEMORY_BUDGET", "8M")  # 8 bytes a pair: 1,000 rows
    run = Quadratic().run(X, {}, seed=0)
    assert 500 <= run.fitted_rows <= 1000 and run.assigned_rows == 2000 - run.fitted_rows


def test_parse_bytes():
    assert parse_bytes("2G") == 2 * 2**30
    assert parse_bytes("512MB") == 512 * 2**20
    assert parse_bytes("1.5 GiB") == int(1.5 * 2**30)
    assert parse_bytes("1000") == 1000


def test_nearest_labels_match_exact_search_even_with_a_large_offset():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(300, 5)) + 1e6
    X = rng.normal(size=(5000, 5)) + 1e6
    lab = np.arange(300)
    got = nearest_labels(X, ref, lab, chunk=777)
    d2 = ((X[:, None, :] - ref[None, :, :]) ** 2).sum(-1)
    exact = np.argmin(d2, axis=1)
    # float32 may swap exact near-ties only
    agree = got == exact
    assert agree.mean() > 0.99
    gap = d2[np.arange(5000), got] - d2[np.arange(5000), exact]
    assert np.all(gap[~agree] < 1e-3 * d2[np.arange(5000), exact][~agree] + 1e-6)


def test_stratified_pool_keeps_small_clusters():
    labels = np.r_[np.zeros(10_000, int), np.ones(5, int), -np.ones(3, int)]
    pool = stratified_pool(labels, 200, np.random.default_rng(0))
    assert len(pool) <= 210 and len(np.unique(pool)) == len(pool)
    assert set(labels[pool]) == {0, 1, -1}


def test_gaussian_assignment_follows_the_covariances():
    rng = np.random.default_rng(0)
    wide = rng.normal(scale=[5.0, 0.2], size=(2000, 2))
    narrow = rng.normal(loc=[0.0, 2.0], scale=0.2, size=(2000, 2))
    sample = np.vstack([wide, narrow])
    labels = np.r_[np.zeros(2000, int), np.ones(2000, int)]
    # far along x but on the wide cluster's axis: nearest centre says 1, the Gaussians say 0
    point = np.array([[8.0, 0.9]])
    assert gaussian_labels(point, sample, labels)[0] == 0


def test_birch_with_many_subclusters_stays_small():
    from metaclust_automl.backends.partitional import BirchBackend

    X, y = make_blobs(n_samples=2000, n_features=4, centers=3, random_state=0)
    b = BirchBackend()
    b.max_ward_subclusters = 50  # force the weighted k-means global step
    run = b.run(X, {"n_clusters": 3, "threshold": 1e-9}, seed=0)  # a subcluster per row
    assert adjusted_rand_score(y, run.labels) > 0.95


# -- the command line on a 10,000 x 10 table -----------------------------------------

@pytest.fixture(scope="module")
def table_10k(tmp_path_factory):
    X, _ = make_blobs(n_samples=10_000, n_features=10, centers=4, random_state=0)
    path = tmp_path_factory.mktemp("big") / "t.csv"
    pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", NAMES)
def test_cli_runs_each_backend_on_10k_rows(name, table_10k, tmp_path, cli):
    out = tmp_path / "labels.csv"
    backend = next(b for b in BACKENDS if b.name == name)
    sets = [x for k, v in k_params(backend, 4).items() for x in ("--set", f"{k}={v}")]
    code, stdout, stderr = cli("cluster", table_10k, "-a", name, *sets, "-o", out, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    labels = pd.read_csv(out)["label"].to_numpy()
    assert labels.shape == (10_000,) and report["n_rows"] == 10_000
    assert report["n_clusters"] == len(set(labels[labels >= 0]))
    limit = backend.max_fit_rows
    if limit is not None and limit < 10_000:
        assert any(f"random sample of {limit:,}" in note for note in report["notes"])
    else:
        assert not any("random sample" in note for note in report["notes"])


def test_cli_prints_the_sampling_note(table_10k, tmp_path, cli):
    code, _, stderr = cli("cluster", table_10k, "-a", "agglomerative", "--set", "n_clusters=4")
    assert code == 0
    assert "note: fitted on a random sample of 5,000 of 10,000 rows" in stderr


# -- preprocessing ------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["standard", "robust", "minmax", "pca_whiten"])
def test_preprocessing_is_scale_free_and_overflow_safe(method):
    from metaclust_automl import preprocess

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]
    X[:, 2] = 7.0  # a constant column stays finite
    base = preprocess.apply(X, method)
    assert np.isfinite(base).all() and base.shape[0] == 500
    for factor in (1e300, 1e-300):  # huge and tiny tables transform to the same numbers
        np.testing.assert_allclose(preprocess.apply(X * factor, method), base, rtol=1e-9, atol=1e-9)
    if method == "standard":
        np.testing.assert_allclose(base[:, :2].mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(base[:, :2].std(axis=0), 1, rtol=1e-12)
    if method == "minmax":
        np.testing.assert_allclose(base[:, :2].min(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(base[:, :2].max(axis=0), 1, rtol=1e-12)
    if method == "pca_whiten":
        np.testing.assert_allclose(np.cov(base, rowvar=False), np.eye(base.shape[1]), atol=1e-8)


def test_unknown_preprocessing():
    from metaclust_automl import preprocess

    with pytest.raises(ConfigError, match="unknown preprocessing"):
        preprocess.apply(np.ones((3, 2)), "log")


def test_values_that_overflow_distances_are_refused_not_hung():
    from metaclust_automl.backends.density import HDBSCANBackend

    X = np.array([[1e308, 0.0], [-1e308, 1.0], [0.0, 2.0], [1e308, 3.0], [5.0, 4.0]])
    with pytest.raises(BackendError, match="overflow; use --set preprocess=standard"):
        HDBSCANBackend().run(X, {}, seed=0)
    run = HDBSCANBackend().run(X, {"preprocess": "standard", "min_cluster_size": 2}, seed=0)
    assert run.labels.shape == (5,)
