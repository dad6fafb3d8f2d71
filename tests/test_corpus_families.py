"""The corpus families that cover what users bring (issue 16): heavy-tailed mixtures,
make_classification-like hypercube classes, real-table-like columns (skewed, integer-valued,
on different scales), 3-D shape scenes, heavily overlapping unbalanced groups and varying
density among noise. Each generator must draw what its docstring promises, reject
parameters it cannot honour, and the families must span the ranges they were added for."""
from __future__ import annotations

import numpy as np
import pytest

from metaclust_automl.corpus import builtin_task_ids, load_builtin_task, task_checksum
from metaclust_automl.errors import ConfigError
from metaclust_automl.generators import clusters

NEW_FAMILIES = ("heavy-tailed", "hypercube", "real-like", "shapes-3d", "overlap-groups", "density-noise")


def _gen(name: str, seed: int = 0, **params):  # noqa: ANN003, ANN202
    return clusters.generate(name, params, np.random.default_rng(seed))


def _kurtosis(v: np.ndarray) -> float:
    z = (v - v.mean()) / v.std()
    return float(np.mean(z ** 4) - 3.0)


def test_student_t_clusters_have_heavier_tails_than_gaussian_ones():
    X_t, y_t = _gen("heavy", n=3000, d=2, k=1, df=2.5)
    X_g, _ = _gen("blobs", n=3000, d=2, k=1)
    X_l, _ = _gen("heavy", n=3000, d=2, k=1, dist="laplace")
    assert X_t.shape == (3000, 2) and set(np.unique(y_t)) == {0}
    assert _kurtosis(X_t[:, 0]) > 3.0 > abs(_kurtosis(X_g[:, 0]))
    assert 1.5 < _kurtosis(X_l[:, 0]) < 6.0  # Laplace: excess kurtosis 3


def test_heavy_tailed_sizes_follow_imbalance():
    _, y = _gen("heavy", n=1200, d=3, k=4, imb=6)
    sizes = np.bincount(y)
    assert sizes.sum() == 1200 and sizes.max() / sizes.min() == pytest.approx(6, rel=0.05)


def test_hypercube_columns_are_informative_redundant_and_useless():
    X, y = _gen("hypercube", n=900, k=3, inf=4, red=3, useless=5, sub=2)
    assert X.shape == (900, 12)
    assert sorted(np.bincount(y)) == [300, 300, 300]
    # redundant columns are linear combinations of the informative ones: rank inf + useless
    assert np.linalg.matrix_rank(X - X.mean(axis=0), tol=1e-8) == 4 + 5


def test_hypercube_classes_are_several_sub_clusters():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    X, y = _gen("hypercube", n=1200, k=2, inf=3, red=0, useless=0, sub=3, sep=6.0)
    fine = KMeans(6, n_init=5, random_state=0).fit_predict(X)
    # six well-separated blobs: each holds one class only, and two blobs are not two classes
    purity = sum(np.bincount(y[fine == c]).max() for c in range(6)) / y.size
    assert purity > 0.97
    assert adjusted_rand_score(y, KMeans(2, n_init=5, random_state=0).fit_predict(X)) < 0.9


def test_scene3d_pieces_are_three_dimensional_clusters():
    X, y = _gen("scene3d", n=1500, parts=6)
    assert X.shape == (1500, 3)
    assert np.unique(y).size >= 6 and np.bincount(y).min() >= clusters.MIN_CLUSTER


def test_skewed_and_integer_columns():
    # the same draws up to the column transforms (the rows come shuffled otherwise, and the
    # transforms are monotone, so the sorted columns correspond)
    plain = np.sort(_gen("blobs", n=1000, d=6, k=3)[0], axis=0)
    X = np.sort(_gen("blobs", n=1000, d=6, k=3, skew=0.5)[0], axis=0)
    changed = [j for j in range(6) if not np.allclose(X[:, j], plain[:, j])]
    assert len(changed) == 3
    for j in changed:  # exp of an affine map of the column: positive, log linear in the original
        assert X[:, j].min() > 0 and abs(np.corrcoef(np.log(X[:, j]), plain[:, j])[0, 1]) > 0.9999
        skew = float(np.mean(((X[:, j] - X[:, j].mean()) / X[:, j].std()) ** 3))
        assert skew > float(np.mean(((plain[:, j] - plain[:, j].mean()) / plain[:, j].std()) ** 3))
    X, _ = _gen("blobs", n=1000, d=5, k=3, ints=0.4, scale=3)
    integer = [bool(np.all(c == np.round(c))) and 3 <= np.unique(c).size <= 40 for c in X.T]
    assert sum(integer) == 2


def test_new_common_parameters_stay_out_of_old_ids_and_leave_old_tables_alone():
    assert clusters.id_part("blobs", {"n": 500, "d": 2, "k": 3}) == "n500-d2-k3"
    assert clusters.id_part("blobs", {"n": 500, "d": 2, "k": 3, "skew": 0.3}) == "n500-d2-k3-skew0.3"
    a, _ = _gen("blobs", n=400, d=3, k=3, scale=2)
    b, _ = _gen("blobs", n=400, d=3, k=3, scale=2, skew=0.0, ints=0.0)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("gen", "params"), [
    ("blobs", {"skew": 1.5}), ("blobs", {"ints": -0.1}), ("heavy", {"df": 0}),
    ("heavy", {"dist": "cauchy"}), ("hypercube", {"sub": 0}), ("scene3d", {"gap": -1.0}),
])
def test_impossible_parameters_are_refused(gen: str, params: dict):
    with pytest.raises(ConfigError):
        clusters.resolve_params(gen, params)


def test_new_families_span_the_ranges_they_were_added_for():
    ids = builtin_task_ids(families=list(NEW_FAMILIES))
    assert len(ids) >= 150
    shapes = {}
    for tid in ids:
        fam = tid.split("/")[1]
        task = load_builtin_task(tid)
        shapes.setdefault(fam, []).append((task.X.shape[0], task.X.shape[1], task.n_classes))
    assert set(shapes) == set(NEW_FAMILIES)
    n, d, k = (np.array([s[i] for v in shapes.values() for s in v]) for i in range(3))
    assert n.min() >= 300 and n.max() <= 2000
    assert d.min() == 2 and d.max() >= 100
    assert k.min() == 2 and k.max() >= 25
    over = np.array([s[1] for s in shapes["overlap-groups"]])
    assert over.min() == 2 and over.max() == 100


def test_a_new_task_is_the_same_table_every_time():
    for tid in builtin_task_ids(families=list(NEW_FAMILIES))[::40]:
        assert task_checksum(load_builtin_task(tid)) == task_checksum(load_builtin_task(tid))
