"""Saved models: plain files, checksums, labelling new rows, and schema errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from metaclust_automl.generators.mixed import mixed_frame
from metaclust_automl.loading import frame_to_table
from metaclust_automl.plugins import get_registry
from metaclust_automl.saved_model import ModelError, SavedModel

CENTRES = [(0, 0), (8, 0), (0, 8), (8, 8)]


def _blobs(n=2000, seed=0):
    X, y = make_blobs(n, 2, centers=CENTRES, cluster_std=1.0, random_state=seed)
    return pd.DataFrame(X, columns=["a", "b"]), y


def _fit(df, algorithm, params, seed=0):
    t = frame_to_table(df)
    run = get_registry().backend(algorithm).run(t.X, params, seed=seed)
    return SavedModel.from_run(t.X, run.labels, algorithm, run.params, run.resolved, t.columns, t.schema), run


@pytest.mark.parametrize("algorithm,params", [
    ("kmeans", {"n_clusters": 4}), ("gmm", {"n_components": 4}), ("birch", {"n_clusters": 4}),
    ("hdbscan", {"min_cluster_size_frac": 0.05}), ("dbscan", {"eps": 0.8, "min_samples": 10}),
    ("agglomerative", {"n_clusters": 4, "preprocess": "standard"})])
def test_new_rows_get_their_blob_and_fitted_rows_their_label(tmp_path, algorithm, params):
    df, y = _blobs()
    model, run = _fit(df.iloc[:1500], algorithm, params)
    model.save(tmp_path / "m")
    loaded = SavedModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_frame(df.iloc[:1500]), run.labels)
    new = loaded.predict_frame(df.iloc[1500:])
    assert adjusted_rand_score(y[1500:], new) >= 0.9, algorithm


def test_the_inductive_rule_agrees_with_the_fit_without_exact_matches():
    df, _ = _blobs()
    model, run = _fit(df.iloc[:1500], "kmeans", {"n_clusters": 4})
    shifted = df.iloc[:1500] + 1e-9  # no row identical to a fitted one
    assert np.mean(model.predict_frame(shifted) == run.labels) > 0.99


def test_model_directory_is_plain_checksummed_files(tmp_path):
    df, _ = _blobs(400)
    model, _ = _fit(df, "kmeans", {"n_clusters": 4})
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["manifest.json", "model.json", "state.npz"]
    with np.load(tmp_path / "m" / "state.npz", allow_pickle=False) as z:  # would fail on objects
        assert all(z[k].dtype != object for k in z.files)
    text = (tmp_path / "m" / "model.json").read_text()
    (tmp_path / "m" / "model.json").write_text(text.replace('"kmeans"', '"dbscan"'))
    with pytest.raises(ModelError, match="checksum"):
        SavedModel.load(tmp_path / "m")


def test_refuses_to_overwrite_a_directory_that_is_not_a_model(tmp_path):
    df, _ = _blobs(400)
    model, _ = _fit(df, "kmeans", {"n_clusters": 4})
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("precious")
    with pytest.raises(ModelError, match="not a metaclust model"):
        model.save(tmp_path / "docs")
    assert (tmp_path / "docs" / "thesis.txt").read_text() == "precious"
    model.save(tmp_path / "m")
    model.save(tmp_path / "m")  # a model directory may be replaced
    with pytest.raises(ModelError, match="not a metaclust model"):
        SavedModel.load(tmp_path / "docs")


def test_schema_errors_and_documented_handling():
    df, _ = mixed_frame(np.random.default_rng(0), n=300, sep=1.75)
    model, _ = _fit(df, "kmeans", {"n_clusters": 3})
    with pytest.raises(ModelError, match="lacks column 'colour'"):
        model.predict_frame(df.drop(columns="colour"))
    with pytest.raises(ModelError, match="column 'x1' was numeric .* holds"):
        model.predict_frame(df.assign(x1="high"))
    with pytest.raises(ModelError, match="missing or infinite"):
        model.predict_frame(df.assign(x1=np.nan))
    labels = model.predict_frame(df.assign(extra=1.0))  # extra columns: ignored, with a note
    assert labels.shape == (300,) and "ignored 1 column" in model.notes[0]
    odd = df.copy()
    odd.loc[0, "colour"] = "ultraviolet"
    labels = model.predict_frame(odd)  # an unseen category: no known level, with a note
    assert labels[0] >= 0 and "not seen when fitting ('ultraviolet')" in model.notes[0]
    shuffled = df[["colour", "x2", "x1"]]  # column order does not matter
    np.testing.assert_array_equal(model.predict_frame(shuffled), model.predict_frame(df))


def test_kprototypes_model_predicts_mixed_rows():
    df, y = mixed_frame(np.random.default_rng(1), n=600, sep=1.75)
    model, run = _fit(df.iloc[:450], "kprototypes", {"n_clusters": 3})
    assert model.rule == "prototype"
    np.testing.assert_array_equal(model.predict_frame(df.iloc[:450]), run.labels)
    assert adjusted_rand_score(y[450:], model.predict_frame(df.iloc[450:])) > 0.6


def test_cli_save_model_and_predict(cli, tmp_path):
    df, y = _blobs()
    df.iloc[:1500].to_csv(tmp_path / "fit.csv", index=False)
    df.iloc[1500:].to_csv(tmp_path / "new.csv", index=False)
    code, _, err = cli("cluster", tmp_path / "fit.csv", "-o", tmp_path / "fit_labels.csv",
                       "--save-model", tmp_path / "model")
    assert code == 0, err
    code, _, err = cli("predict", tmp_path / "model", tmp_path / "new.csv", "-o", tmp_path / "new_labels.csv")
    assert code == 0, err
    new = pd.read_csv(tmp_path / "new_labels.csv")["label"].to_numpy()
    assert adjusted_rand_score(y[1500:], new) >= 0.95
    code, _, err = cli("predict", tmp_path / "model", tmp_path / "fit.csv", "-o", tmp_path / "again.csv")
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "again.csv")["label"],
                                  pd.read_csv(tmp_path / "fit_labels.csv")["label"])
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = cli("predict", tmp_path / "model", tmp_path / "bad.csv")
    assert code == 2 and "lacks column 'b'" in err and "Traceback" not in err
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("x")
    code, _, err = cli("cluster", tmp_path / "fit.csv", "--save-model", tmp_path / "keep")
    assert code != 0 and "not a metaclust model" in err


def test_estimator_predict_labels_new_rows():
    from metaclust_automl import MetaClusterer

    df, y = _blobs()
    X = df.to_numpy()
    est = MetaClusterer().fit(X[:1500])
    np.testing.assert_array_equal(est.predict(X[:1500]), est.labels_)
    assert adjusted_rand_score(y[1500:], est.predict(X[1500:])) >= 0.9
    from metaclust_automl.errors import DataError

    with pytest.raises(DataError):
        est.predict(X[:, :1])
