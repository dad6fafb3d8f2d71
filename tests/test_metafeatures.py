"""Meta-features: names and docs, finiteness, order invariance, determinism, fallbacks."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from metaclust_automl import plugins
from metaclust_automl.errors import ConfigError
from metaclust_automl.hookspecs import hookimpl
from metaclust_automl.metafeatures import (MetaFeatureGroup, MetaFeatureWarning, describe, extract,
                                           feature_names)
from metaclust_automl.metafeatures.sampling import order_invariant_sample, row_hash

BUILTIN = {"general", "statistical", "distance", "density", "landmarkers"}

# features that depend on the raw units on purpose, or on the order of the sampled rows
UNIT_DEPENDENT = {"statistical.scale_spread", "statistical.raw_pca_first_share"}


def _clustered(n=600, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(3, d))
    return centers[rng.integers(0, 3, n)] + rng.normal(size=(n, d))


@pytest.fixture(scope="module")
def table():
    return _clustered(3000, 5)


def test_at_least_40_documented_features_in_five_groups():
    names = feature_names()
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert {n.split(".")[0] for n in names} >= BUILTIN
    docs = describe()
    assert list(docs) == names
    for name, info in docs.items():
        assert len(name.split(".")) == 2
        assert str(info["description"]).strip(), f"{name} has no description"
        assert np.isfinite(info["fallback"])


def test_values_are_finite_and_in_name_order(table):
    f = extract(table, sample_size=300)
    assert list(f) == feature_names()
    assert all(isinstance(v, float) and np.isfinite(v) for v in f.values())
    assert f["general.log_n"] == pytest.approx(np.log(3000))
    assert f["general.log_d"] == pytest.approx(np.log(5))


def test_invariant_to_row_order(table):
    # n = 3000 > the stats sample (10 x 200) > the sample (200): both samples are drawn
    perm = np.random.default_rng(1).permutation(len(table))
    assert extract(table, sample_size=200) == extract(table[perm], sample_size=200)


def test_invariant_to_row_order_with_many_duplicates():
    rng = np.random.default_rng(2)
    X = np.round(rng.normal(size=(4000, 2)))  # a few dozen distinct rows, many copies
    perm = rng.permutation(len(X))
    a = extract(X, sample_size=150)
    assert a == extract(X[perm], sample_size=150)
    assert a["general.duplicate_share"] > 0.9


def test_deterministic_for_a_seed(table):
    a = extract(table, sample_size=200, seed=5)
    assert a == extract(table, sample_size=200, seed=5)
    b = extract(table, sample_size=200, seed=6)
    assert a != b  # another seed draws another sample
    assert a["general.log_n"] == b["general.log_n"]


def test_unit_free_features_ignore_column_scaling():
    X = _clustered(400, 3, seed=3)
    a = extract(X, sample_size=1000)  # the whole table is the sample
    b = extract(X * np.array([1e-3, 1.0, 250.0]), sample_size=1000)
    groups = ("general.", "statistical.", "distance.", "density.")
    checked = [k for k in a if k.startswith(groups) and k not in UNIT_DEPENDENT
               and k not in {"density.hopkins", "general.discrete_share"}]
    assert len(checked) > 35
    for k in checked:
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9), k
    assert a["statistical.scale_spread"] != pytest.approx(b["statistical.scale_spread"])


def test_clustered_and_uniform_tables_differ_where_they_should():
    rng = np.random.default_rng(4)
    clustered = extract(_clustered(800, 4, seed=4))
    uniform = extract(rng.random((800, 4)))
    assert clustered["density.hopkins"] > uniform["density.hopkins"]
    assert clustered["landmarkers.kmeans4_silhouette"] > uniform["landmarkers.kmeans4_silhouette"]
    assert clustered["landmarkers.hdbscan_clusters"] >= 2
    assert clustered["statistical.bimodality_max"] > 5 / 9
    assert uniform["statistical.kurtosis_mean"] == pytest.approx(-1.2, abs=0.2)


def _no_warnings_extract(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = extract(X, **kw)
    assert all(np.isfinite(v) for v in f.values())
    return f


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_tiny_tables_take_documented_fallbacks(n):
    X = np.random.default_rng(n).normal(size=(n, 3))
    f = _no_warnings_extract(X)
    # too few rows for k = 8: the worst values of the indices
    assert f["landmarkers.kmeans8_silhouette"] == -1.0
    assert f["landmarkers.kmeans8_ch"] == 0.0
    assert f["landmarkers.kmeans8_db"] == 10.0
    # too few rows for HDBSCAN: no clusters, everything noise
    assert f["landmarkers.hdbscan_clusters"] == 0.0
    assert f["landmarkers.hdbscan_noise_share"] == 1.0
    assert f["landmarkers.hdbscan_dbcv"] == -1.0
    if n < 3:
        assert f["landmarkers.kmeans2_silhouette"] == -1.0
    if n == 1:
        assert f["distance.hist_0"] == 1.0 and f["distance.mean"] == 0.0
        assert f["density.hopkins"] == 0.5


def test_single_column_table():
    X = np.random.default_rng(0).normal(size=(300, 1))
    f = _no_warnings_extract(X)
    assert f["statistical.abs_corr_mean"] == 0.0
    assert f["statistical.pca_first_share"] == pytest.approx(1.0)
    assert f["statistical.pca_entropy"] == 0.0


def test_identical_rows():
    X = np.tile([1.0, 2.0, 3.0], (200, 1))
    f = _no_warnings_extract(X)
    assert f["general.duplicate_share"] == pytest.approx(1 - 1 / 200)
    assert f["distance.mean"] == 0.0 and f["distance.hist_0"] == 1.0
    assert f["distance.zscore_0_1"] == 1.0
    assert f["density.hopkins"] == 0.5 and f["density.knn_relative"] == 1.0
    assert f["statistical.skew_mean"] == 0.0 and f["statistical.abs_corr_mean"] == 0.0


def test_constant_and_near_constant_columns():
    rng = np.random.default_rng(0)
    X = np.c_[np.full(300, 7.0), 5.0 + 1e-15 * rng.normal(size=300), rng.normal(size=(300, 2))]
    f = _no_warnings_extract(X)
    assert f["statistical.bimodal_share"] <= 0.5  # the two (near-)constant columns are not bimodal
    assert f["general.discrete_share"] >= 0.25  # the constant column has one value
    assert f["statistical.skew_max"] < 1.0  # rounding noise is not read as skewness


def test_binary_and_wide_tables():
    rng = np.random.default_rng(0)
    f = _no_warnings_extract(rng.integers(0, 2, (400, 6)).astype(float))
    assert f["general.binary_share"] == 1.0 and f["general.discrete_share"] == 1.0
    f = _no_warnings_extract(rng.normal(size=(120, 300)))  # projected before distances
    assert f["general.log_d"] == pytest.approx(np.log(300))


def test_bad_sample_size_is_a_config_error(table):
    with pytest.raises(ConfigError):
        extract(table, sample_size=0)


# -- sampling ---------------------------------------------------------------------------

def test_row_hash_depends_on_content_not_position():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    X[10] = X[20]
    h = row_hash(X, seed=1)
    perm = rng.permutation(1000)
    assert np.array_equal(row_hash(X[perm], seed=1), h[perm])
    assert h[10] == h[20]
    assert np.unique(h).size == 999
    assert not np.array_equal(row_hash(X, seed=2), h)


def test_row_hash_separates_integer_valued_rows():
    # integer-valued floats differ only in high bits: the fold must spread them
    grid = np.stack(np.meshgrid(np.arange(100.0), np.arange(100.0), np.arange(10.0)), -1).reshape(-1, 3)
    assert np.unique(row_hash(grid)).size == len(grid)


def test_sample_is_uniform_over_rows_when_rows_repeat():
    X = np.repeat(np.array([[0.0], [1.0], [2.0]]), [6000, 3000, 1000], axis=0)
    s = order_invariant_sample(X, 1000, seed=0)
    counts = np.bincount(X[s.index, 0].astype(int), minlength=3)
    assert np.allclose(counts / 1000, [0.6, 0.3, 0.1], atol=0.06)
    assert s.duplicate_share == pytest.approx(1 - 3 / 10_000)
    perm = np.random.default_rng(0).permutation(len(X))
    assert np.array_equal(X[perm][order_invariant_sample(X[perm], 1000).index], X[s.index])


# -- plugins and the CLI ----------------------------------------------------------------

class _ExtraGroups:
    @hookimpl
    def register_metafeatures(self, register):
        register(MetaFeatureGroup(name="zz_extra", features={"rows": "rows in the sample"},
                                  compute=lambda ctx: {"rows": float(ctx.sample.shape[0])}))
        register(MetaFeatureGroup(name="zz_broken", features={"x": "always fails"},
                                  compute=lambda ctx: 1 / 0, fallback=-3.0))


@pytest.fixture
def extra_plugin():
    plugins.reset()
    plugins.get_plugin_manager().register(_ExtraGroups(), name="test-extra")
    yield
    plugins.reset()


def test_plugin_groups_join_the_vector(extra_plugin, table):
    assert feature_names()[-2:] == ["zz_broken.x", "zz_extra.rows"]
    with pytest.warns(MetaFeatureWarning, match="zz_broken"):
        f = extract(table[:100])
    assert f["zz_extra.rows"] == 100.0
    assert f["zz_broken.x"] == -3.0


def test_cli_json_and_table(cli, tmp_path):
    X = _clustered(200, 3)
    path = tmp_path / "t.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c", comments="")
    code, out, err = cli("metafeatures", path, "--json")
    assert code == 0, err
    values = json.loads(out)
    assert list(values) == feature_names()
    code, out, err = cli("metafeatures", path)
    assert code == 0 and "landmarkers" in out and "hopkins" in out
    code, out, err = cli("metafeatures", tmp_path / "missing.csv")
    assert code != 0 and "Traceback" not in err and err.strip().count("\n") == 0
