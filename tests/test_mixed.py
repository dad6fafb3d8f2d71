"""Mixed tables: which columns are categorical, how they are encoded, and what backends get."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from metaclust_automl.generators.mixed import mixed_frame
from metaclust_automl.encoding import gower_distances, layout_of
from metaclust_automl.errors import DataError
from metaclust_automl.loading import frame_to_table, load_table


def _frame(n=300, seed=0, **kw):
    return mixed_frame(np.random.default_rng(seed), n=n, sep=1.75, **kw)


def test_text_columns_become_one_hot_and_say_so(tmp_path):
    df, _ = _frame()
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    t = load_table(path)
    assert t.columns == ["x1", "x2", "colour"] and t.schema.categorical == ["colour"]
    assert t.feature_names == ["x1", "x2", "colour=blue", "colour=green", "colour=red"]
    assert len(t.notes) == 1 and "colour (3 levels)" in t.notes[0]
    onehot = np.asarray(t.X[:, 2:])
    assert set(np.unique(onehot)) == {0.0, 1.0} and (onehot.sum(axis=1) == 1).all()
    np.testing.assert_allclose(np.asarray(t.X[:, :2]).std(axis=0), 1.0)  # numbers standardised
    assert layout_of(t.X).blocks == ((2, 5),)


def test_numeric_tables_are_untouched(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 3))
    path = tmp_path / "n.csv"
    pd.DataFrame(X, columns=list("abc")).to_csv(path, index=False)
    t = load_table(path)
    assert t.schema is None and layout_of(t.X) is None and type(t.X) is np.ndarray
    np.testing.assert_allclose(t.X, X, rtol=1e-12)


def test_identifier_columns_are_an_error_naming_drop():
    df, _ = _frame()
    df["customer"] = [f"id{i}" for i in range(len(df))]
    with pytest.raises(DataError, match=r"'customer'.*identifier.*--drop customer"):
        frame_to_table(df)
    assert frame_to_table(df, drop=["customer"]).schema.categorical == ["colour"]


def test_forcing_columns_either_way():
    df = pd.DataFrame({"a": np.arange(60) % 3, "b": np.linspace(0, 1, 60), "c": ["x", "y"] * 30})
    t = frame_to_table(df, categorical=["a"])
    assert t.schema.categorical == ["a", "c"]
    with pytest.raises(DataError, match="--numeric names column 'c'"):
        frame_to_table(df, numeric=["c"])
    with pytest.raises(DataError, match="both --categorical and --numeric"):
        frame_to_table(df, categorical=["a"], numeric=["a"])
    t = frame_to_table(df.assign(c=df["c"] == "x"), numeric=["c"])  # a boolean read as 0/1
    assert t.schema is None and t.X.shape == (60, 3)


def test_pandas_categorical_and_missing_levels():
    df = pd.DataFrame({"a": np.linspace(0, 1, 40),
                       "g": pd.Categorical(["p", "q", None, "q"] * 10)})
    t = frame_to_table(df)
    assert t.schema.levels["g"] == ["p", "q", "<missing>"]


def test_gower_distance_matches_its_definition():
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 4.0], "c": ["x", "y", "x", "y"]})
    t = frame_to_table(df, min_rows=3)
    D = gower_distances(t.X, layout_of(t.X))
    # rows 0 and 3: |0-4|/4 = 1 on a, mismatch on c: (1 + 1) / 2
    assert D[0, 3] == pytest.approx(1.0) and D[0, 2] == pytest.approx(0.25)
    np.testing.assert_allclose(np.diag(D), 0.0)


@pytest.mark.parametrize("algorithm,params", [
    ("kprototypes", {"n_clusters": 3}), ("agglomerative", {"n_clusters": 3, "linkage": "average"}),
    ("hdbscan", {"min_cluster_size_frac": 0.05}), ("kmeans", {"n_clusters": 3})])
def test_backends_use_the_categories(algorithm, params):
    from metaclust_automl.plugins import get_registry

    df, y = _frame(n=400)
    t = frame_to_table(df)
    numeric_only = get_registry().backend(algorithm).run(t.X[:, :2].copy(), params).labels
    mixed = get_registry().backend(algorithm).run(t.X, params).labels
    assert adjusted_rand_score(y, mixed) > max(0.6, adjusted_rand_score(y, numeric_only) + 0.2)


def test_kprototypes_on_a_numeric_table_is_kmeans(blobs):
    from metaclust_automl.plugins import get_registry

    X, y = blobs
    labels = get_registry().backend("kprototypes").run(X, {"n_clusters": 3}).labels
    assert adjusted_rand_score(y, labels) > 0.95


def test_column_type_metafeatures():
    from metaclust_automl import metafeatures

    df, _ = _frame()
    mixed = metafeatures.extract(frame_to_table(df).X)
    assert mixed["column_types.categorical_share"] == pytest.approx(1 / 3)
    assert mixed["column_types.categorical_levels_mean"] == 3
    numeric = metafeatures.extract(np.random.default_rng(0).normal(size=(100, 3)))
    assert numeric["column_types.categorical_share"] == 0.0


def test_recommend_and_cluster_read_a_mixed_csv(cli, tmp_path):
    df, y = _frame(n=600)
    path = tmp_path / "mixed.csv"
    df.to_csv(path, index=False)
    code, _, err = cli("recommend", path, "--top", "2")
    assert code == 0 and "categorical column: colour" in err
    out = tmp_path / "labels.csv"
    code, _, err = cli("cluster", path, "-o", out)
    assert code == 0, err
    labels = pd.read_csv(out)["label"].to_numpy()
    assert labels.shape == (600,) and adjusted_rand_score(y, labels) > 0.6


def test_estimator_takes_a_dataframe():
    from metaclust_automl import MetaClusterer

    df, y = _frame(n=400)
    est = MetaClusterer().fit(df)
    assert list(est.feature_names_in_) == ["x1", "x2", "colour"]
    assert adjusted_rand_score(y, est.labels_) > 0.6
    np.testing.assert_array_equal(est.predict(df), est.labels_)


@pytest.mark.parametrize("method", ["standard", "robust", "minmax", "pca_whiten"])
def test_preprocessing_leaves_the_one_hot_columns_alone(method):
    from metaclust_automl import preprocess

    df = pd.DataFrame({"a": np.linspace(0, 5, 40), "b": np.sin(np.arange(40)),
                       "c": ["x"] * 30 + ["y"] * 10})  # a majority level: robust scaling's trap
    X = frame_to_table(df).X
    Xp = preprocess.apply(X, method)
    lay = layout_of(Xp)
    assert lay is not None
    np.testing.assert_array_equal(np.asarray(Xp[:, lay.n_numeric:]), np.asarray(X[:, 2:]))
    np.testing.assert_array_equal(lay.codes(Xp), layout_of(X).codes(X))


def test_corpus_mixed_family_keeps_its_layout():
    from metaclust_automl import metafeatures
    from metaclust_automl.corpus import builtin_task_ids, load_builtin_task

    ids = builtin_task_ids(families=["mixed-types"])
    assert len(ids) >= 10
    task = load_builtin_task(ids[0])
    assert layout_of(task.X) is not None and set(np.unique(task.y)) == {0, 1, 2}
    assert metafeatures.extract(task.X)["column_types.categorical_share"] > 0
