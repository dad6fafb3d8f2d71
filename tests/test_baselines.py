"""The blind baselines: conventions (standardisation, degenerate = -1), determinism, sampling."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from metaclust_automl.errors import ConfigError
from metaclust_automl.evaluation import baselines as B


@pytest.fixture
def three_blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=240, n_features=2, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.5,
                      random_state=1)
    return X, y


def test_silhouette_on_sample_scores_degenerate_clusterings_minus_one(three_blobs):
    X, y = three_blobs
    assert B.silhouette_on_sample(X, np.zeros(len(X), int)) == -1.0          # one cluster
    assert B.silhouette_on_sample(X, np.full(len(X), -1)) == -1.0            # all noise
    assert B.silhouette_on_sample(X, np.arange(len(X))) == -1.0              # one row per cluster
    one_plus_outlier = np.zeros(len(X), int)
    one_plus_outlier[0] = -1                                                 # noise is one more cluster:
    assert B.silhouette_on_sample(X, one_plus_outlier) > -1.0                # not degenerate
    assert B.silhouette_on_sample(X, y) > B.silhouette_on_sample(X, np.arange(len(X)) % 3)


def test_silhouette_on_sample_is_bounded_and_seeded(three_blobs):
    X, y = three_blobs
    a = B.silhouette_on_sample(X, y, sample_size=50, seed=3)
    assert a == B.silhouette_on_sample(X, y, sample_size=50, seed=3)
    assert a != B.silhouette_on_sample(X, y, sample_size=50, seed=4)


def test_kmeans_silhouette_finds_the_number_of_blobs(three_blobs):
    X, y = three_blobs
    labels = B.kmeans_silhouette(X, seed=0)
    assert labels.shape == (len(X),) and labels.dtype == np.int64
    assert np.unique(labels).size == 3
    assert adjusted_rand_score(y, labels) > 0.99


def test_kmeans_silhouette_rejects_an_empty_k_range(three_blobs):
    with pytest.raises(ConfigError, match="k_range"):
        B.kmeans_silhouette(three_blobs[0], k_range=[1, 5000])


def test_density_defaults_standardise_first(three_blobs):
    """DBSCAN's eps=0.5 only means something on z-scores: the unit of X must not matter."""
    X, y = three_blobs
    for fn in (B.dbscan_default, B.hdbscan_default):
        labels = fn(X)
        assert labels.shape == (len(X),)
        np.testing.assert_array_equal(labels, fn(X * 1000.0 + 7.0))
        assert adjusted_rand_score(y, labels) > 0.9


def test_dbscan_default_marks_isolated_points_as_noise(three_blobs):
    X, _ = three_blobs
    X = np.vstack([X, [[40.0, 40.0]]])
    assert B.dbscan_default(X)[-1] == -1


def test_optuna_silhouette_is_deterministic_and_good_on_blobs(three_blobs):
    X, y = three_blobs
    a = B.optuna_silhouette(X, trials=12, seed=0)
    b = B.optuna_silhouette(X, trials=12, seed=0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (len(X),)
    assert adjusted_rand_score(y, a) > 0.9


def test_optuna_silhouette_keeps_parameters_of_one_name_apart(three_blobs):
    """DBSCAN and HDBSCAN both have ``min_samples`` with different ranges: one study must
    search both without Optuna complaining about a changed distribution."""
    X, _ = three_blobs
    labels = B.optuna_silhouette(X, trials=15, seed=1, algorithms=("dbscan", "hdbscan"))
    assert labels.shape == (len(X),)


def test_optuna_silhouette_checks_its_arguments(three_blobs):
    with pytest.raises(ConfigError, match="trials"):
        B.optuna_silhouette(three_blobs[0], trials=0)
    with pytest.raises(ConfigError, match="installed"):
        B.optuna_silhouette(three_blobs[0], trials=2, algorithms=("no-such-backend",))


def test_on_sample_runs_on_a_sample_and_labels_every_row(three_blobs):
    X, y = three_blobs
    seen = {}

    def fake(Xs: np.ndarray, seed: int = 0) -> np.ndarray:
        seen["rows"] = Xs.shape[0]
        return B.kmeans_silhouette(Xs, seed=seed, k_range=[3])

    labels, note = B.on_sample(fake, X, 60, seed=0)
    assert seen["rows"] == 60
    assert labels.shape == (len(X),) and "60 of 240" in note
    assert adjusted_rand_score(y, labels) > 0.95     # nearest sampled row carries the label over
    full, note_full = B.on_sample(fake, X, 1000, seed=0)
    assert note_full == "" and seen["rows"] == 240


def test_baseline_registry_names_the_four_baselines():
    assert list(B.BASELINES) == ["dbscan_default", "hdbscan_default", "kmeans_silhouette", "optuna_silhouette"]
