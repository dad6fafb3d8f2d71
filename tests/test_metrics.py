"""External scores against hand-computed cases, and the internal indices' contracts."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import (adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score,
                             normalized_mutual_info_score, silhouette_score)

from metaclust_automl import metrics as M
from metaclust_automl.errors import ConfigError, DataError


def scores(t, p, **kw):
    return M.external_scores(t, p, **kw)


def test_perfect_match_under_relabelling():
    s = scores([0, 0, 0, 1, 1, 1], [7, 7, 7, 3, 3, 3])
    assert s == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})


def test_more_clusters_than_classes_hand_computed():
    # clusters {0,1} split class 0; cluster 2 is class 1. Best matching keeps 2 + 4 rows.
    t = [0, 0, 0, 0, 1, 1, 1, 1]
    p = [0, 0, 1, 1, 2, 2, 2, 2]
    s = scores(t, p)
    assert s["acc"] == pytest.approx(6 / 8)
    # sum C(n_ij,2) = 8, clusters 8, classes 12, C(8,2) = 28 -> (8 - 96/28) / (10 - 96/28) = 16/23
    assert s["ari"] == pytest.approx(16 / 23)
    # every cluster is pure: MI = H(classes) = log 2, H(clusters) = 1.5 log 2 -> 1 / 1.25
    assert s["nmi"] == pytest.approx(0.8)


def test_fewer_clusters_than_classes():
    # one cluster holds classes 1 and 2: only one of them can be matched
    assert M.clustering_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]) == pytest.approx(4 / 6)


def test_noise_as_its_own_cluster_by_default():
    t = [0, 0, 1, 1, 2, 2]
    p = [0, 0, 1, 1, -1, -1]
    assert scores(t, p) == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})


def test_noise_as_singletons_hand_computed():
    t = [0, 0, 1, 1, 2, 2]
    p = [0, 0, 1, 1, -1, -1]
    s = scores(t, p, noise="singletons")
    assert s["acc"] == pytest.approx(5 / 6)  # class 2 can be matched to one noise row only
    # sum C(n_ij,2) = 2, clusters 2, classes 3, C(6,2) = 15 -> (2 - 0.4) / (2.5 - 0.4)
    assert s["ari"] == pytest.approx(16 / 21)
    assert s["nmi"] < 1.0


def test_noise_grouping_two_classes_earns_nothing_as_singletons():
    t = [0, 0, 1, 1, 1, 1]
    p = [0, 0, -1, -1, -1, -1]
    assert M.clustering_accuracy(t, p) == 1.0
    assert M.clustering_accuracy(t, p, noise="singletons") == pytest.approx(3 / 6)


def test_ignore_label_leaves_rows_out():
    t = [0, 1, 1, 2, 2]
    p = [1, 1, 1, 2, 2]
    assert M.clustering_accuracy(t, p) == pytest.approx(4 / 5)
    assert scores(t, p, ignore_label=0) == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})


def test_missing_reference_labels_are_not_scored():
    t = np.array([None, "a", "a", "b", float("nan")], dtype=object)
    p = [3, 0, 0, 1, 1]
    assert scores(t, p) == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})
    tf = np.array([np.nan, 1.0, 1.0, 2.0, np.nan])
    assert M.clustering_accuracy(tf, [5, 0, 0, 1, 0]) == 1.0


def test_nothing_to_score_gives_nan():
    s = scores([None, None], [0, 1])
    assert all(np.isnan(v) for v in s.values())


def test_bad_input_raises_typed_errors():
    with pytest.raises(DataError):
        M.ari([0, 1, 1], [0, 1])
    with pytest.raises(ConfigError):
        M.nmi([0, 1], [0, 1], noise="drop")
    with pytest.raises(DataError):
        M.clustering_accuracy([0, 1], [0.5, 1.0])


@pytest.mark.parametrize("noise", ["cluster", "singletons"])
def test_agrees_with_scikit_learn_and_brute_force_matching(noise):
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(2, 80))
        t = rng.integers(0, int(rng.integers(1, 6)), n)
        p = rng.integers(-1, int(rng.integers(1, 9)), n)
        tc, pc = M._prepare(t, p, None, noise)
        s = scores(t, p, noise=noise)
        assert s["ari"] == pytest.approx(adjusted_rand_score(tc, pc), abs=1e-12)
        assert s["nmi"] == pytest.approx(normalized_mutual_info_score(tc, pc), abs=1e-12)
        table = np.zeros((pc.max() + 1, tc.max() + 1))
        np.add.at(table, (pc, tc), 1)
        r, c = linear_sum_assignment(table, maximize=True)
        assert s["acc"] == pytest.approx(table[r, c].sum() / n)


def test_large_label_vectors_with_mixed_missing_values():
    rng = np.random.default_rng(0)
    n = 200_000
    t = rng.integers(0, 5, n)
    p = np.where(rng.random(n) < 0.9, t, rng.integers(-1, 8, n))
    to = t.astype(object)
    to[::97] = None
    keep = np.ones(n, bool)
    keep[::97] = False
    s = scores(to, p)
    assert s["ari"] == pytest.approx(adjusted_rand_score(t[keep], p[keep]), abs=1e-12)
    assert 0.8 < s["acc"] <= 1.0


# -- internal indices -----------------------------------------------------------------

def test_internal_indices_match_scikit_learn(blobs):
    X, y = blobs
    out = M.internal_indices(X, y, sample_size=10_000)
    assert tuple(out) == M.INDEX_NAMES
    assert out["silhouette"] == pytest.approx(silhouette_score(X, y))
    assert out["calinski_harabasz"] == pytest.approx(np.log1p(calinski_harabasz_score(X, y)))
    assert out["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, y))
    assert out["n_clusters"] == 3 and out["noise_share"] == 0
    assert out["dbcv"] > 0.5


def test_internal_indices_rank_good_above_random(blobs):
    X, y = blobs
    good = M.internal_indices(X, y)
    bad = M.internal_indices(X, np.random.default_rng(0).integers(0, 3, len(y)))
    assert good["silhouette"] > bad["silhouette"]
    assert good["dbcv"] > 0 > bad["dbcv"]
    assert good["davies_bouldin"] < bad["davies_bouldin"]


def test_internal_indices_worst_values_when_undefined(blobs):
    X, _ = blobs
    for labels in (np.zeros(len(X), int), -np.ones(len(X), int)):
        out = M.internal_indices(X, labels)
        assert all(np.isfinite(v) for v in out.values())
        assert out["silhouette"] == -1 and out["dbcv"] == -1
        assert out["calinski_harabasz"] == 0 and out["davies_bouldin"] == 10
    assert M.internal_indices(X, -np.ones(len(X), int))["noise_share"] == 1.0


def test_internal_indices_sample_is_bounded_and_seeded(blobs):
    X, y = blobs
    a = M.internal_indices(X, y, sample_size=50, seed=1)
    assert a == M.internal_indices(X, y, sample_size=50, seed=1)
    assert a["n_clusters"] == 3  # counted on every row, not the sample


def test_dbcv_hand_computed():
    # 1-D, dim 1. Cluster {0,1,2}: core distances 4/3, 1, 4/3; MST edges 4/3, 4/3; the only
    # internal node is 1, so sparseness is the largest edge, 4/3. Separation between the
    # internal nodes 1 and 11 is 10, so each cluster scores (10 - 4/3) / 10.
    X = np.array([0.0, 1, 2, 10, 11, 12])[:, None]
    D = M.pairwise_distances(X)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert M.dbcv(D, labels, 1) == pytest.approx(1 - 0.4 / 3)
    assert M.dbcv(D, labels, 1, noise_share=0.25) == pytest.approx(0.75 * (1 - 0.4 / 3))
    assert np.isnan(M.dbcv(D, np.zeros(6, int), 1))


def test_silhouette_many_clusters_path_agrees():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    labels = rng.integers(0, 60, 300)
    D = M.pairwise_distances(X)
    assert M.silhouette_from_distances(D, labels) == pytest.approx(silhouette_score(X, labels))
    Xw = rng.normal(size=(40, 50))  # wide: BLAS distances
    assert np.allclose(M.pairwise_distances(Xw), np.linalg.norm(Xw[:, None] - Xw[None], axis=-1))
