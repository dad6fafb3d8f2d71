"""trust/: the no-structure verdict, the confidence and the explanations."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from metaclust_automl.errors import KnowledgeBaseError
from metaclust_automl.trust.structure import structure_test


def _uniform():
    return np.random.default_rng(3).uniform(size=(2000, 3))


def _gaussian():
    return np.random.default_rng(4).normal(size=(2000, 5)) * [3.0, 1.0, 1.0, 0.5, 2.0]


def _four_blobs():
    return make_blobs(2000, 4, centers=4, center_box=(-20, 20), random_state=7)


@pytest.mark.parametrize("make", [_uniform, _gaussian])
def test_structureless_tables_have_no_structure(make):
    v = structure_test(make())
    assert not v.has_structure and v.closest_null in ("uniform", "gaussian")
    assert "no cluster structure" in v.message


def _faint_blobs():
    return make_blobs(600, 3, centers=2, cluster_std=2.5, center_box=(-3, 3), random_state=2)[0]


@pytest.mark.parametrize("make", [_uniform, _gaussian, lambda: _four_blobs()[0], _faint_blobs])
def test_skipping_the_gap_statistic_changes_no_verdict(make, monkeypatch):
    """The gap statistic runs only where the Hopkins z leaves the verdict open: the outcome
    equals the one with the gap always computed, and a clear table skips it."""
    import metaclust_automl.trust.structure as structure

    X = make()
    quick = structure.structure_test(X)
    decided = structure.DECIDED
    monkeypatch.setattr(structure, "DECIDED", np.inf)
    full = structure.structure_test(X)
    assert (quick.has_structure, quick.certainty, quick.closest_null) == \
        (full.has_structure, full.certainty, full.closest_null)
    for null, z in quick.z.items():
        assert z["hopkins"] == full.z[null]["hopkins"]
        assert "gap" in full.z[null]
        if "gap" in z:
            assert z["gap"] == full.z[null]["gap"]
        else:
            assert z["hopkins"] >= decided
    if make is not _faint_blobs and quick.has_structure:
        assert all("gap" not in z for z in quick.z.values())


def test_two_overlapping_groups_in_many_dimensions_have_structure():
    """Tables of the corpus's two-groups family: their nearest-neighbour distances and k-means
    compression are the noise dimensions', so the two older statistics called both
    structureless; the two-Gaussian mixture statistic sees the groups k-means can find."""
    from sklearn.cluster import KMeans

    from metaclust_automl.corpus.builtin import load_builtin_task

    for tid in ("syn/two-groups/n800-d8-k2-sep1.2-s0", "syn/two-groups/n800-d32-k2-sep2-s0"):
        task = load_builtin_task(tid)
        v = structure_test(task.X)
        assert v.has_structure and v.z["gaussian"]["mixture"] > 3.2, (tid, v.z)
        assert max(v.z["gaussian"]["hopkins"], v.z["gaussian"]["gap"]) < 3.2  # what the others saw
        km = KMeans(2, n_init=4, random_state=0).fit_predict(task.X)
        assert adjusted_rand_score(task.y, km) > 0.5


@pytest.mark.parametrize("make", [lambda: np.random.default_rng(5).standard_t(4, size=(2000, 4)),
                                  lambda: np.random.default_rng(6).normal(size=(1000, 12)),
                                  lambda: np.random.default_rng(7).normal(size=(2000, 2))
                                  + np.repeat([[0.0, 0.0], [0.6, 0.0]], 1000, axis=0)])
def test_the_mixture_statistic_does_not_split_one_blob(make):
    """A heavy-tailed blob, a Gaussian in twelve columns, and two groups so close that they are
    one: the mixture statistic stays below the threshold (shared covariance: a narrow plus a
    wide Gaussian cannot explain heavy tails)."""
    z = structure_test(make()).z["gaussian"]
    assert z.get("mixture", 0.0) < 3.2, z


def test_separated_blobs_and_rings_have_structure():
    X, _ = _four_blobs()
    assert structure_test(X).has_structure
    t = np.random.default_rng(0).uniform(0, 2 * np.pi, 1000)
    r = np.repeat([1.0, 3.0], 500) + np.random.default_rng(1).normal(0, 0.05, 1000)
    assert structure_test(np.column_stack([r * np.cos(t), r * np.sin(t)])).has_structure


def _far(X, rows, size, seed=9):
    """``X`` with ``rows`` rows ``size`` column standard deviations from its mean (a typo, a
    unit slip), in random directions."""
    sign = np.random.default_rng(seed).choice([-1.0, 1.0], size=(rows, X.shape[1]))
    return np.vstack([X, X.mean(axis=0) + size * X.std(axis=0) * sign])


@pytest.mark.parametrize("rows,size", [(1, 10.0), (1, 1e3), (3, 1e3), (5, 1e6)])
@pytest.mark.parametrize("make", [_uniform, _gaussian])
def test_a_few_far_rows_do_not_make_structure(make, rows, size):
    """Fitted to min/max, one far row made the uniform box thousands of times wider than the
    table (and the covariance of the Gaussian null as wide): z in the hundreds."""
    v = structure_test(_far(make(), rows, size))
    assert not v.has_structure, v.z
    # the test's 2,000-row sample may leave some far rows out; those it drew are set aside
    assert 1 <= v.far_rows <= rows and "set aside" in v.message


def test_a_numeric_header_row_read_as_data_does_not_make_structure():
    X = np.vstack([[[2019.0, 2020.0, 2021.0]], _uniform()])
    assert not structure_test(X).has_structure
    wide = np.vstack([np.full((1, 20), 30.0), np.random.default_rng(5).normal(size=(2000, 20))])
    assert not structure_test(wide).has_structure  # the principal components path


@pytest.mark.parametrize("rows,size", [(1, 1e3), (5, 1e6)])
def test_clusters_keep_their_structure_with_far_rows(rows, size):
    X, _ = _four_blobs()
    assert structure_test(_far(X, rows, size)).has_structure
    # two touching blobs, the weakest structure of these tests, also survive a far row
    pair = np.vstack([np.random.default_rng(2).normal(size=(1000, 2)),
                      np.random.default_rng(3).normal(size=(1000, 2)) + [5.0, 0.0]])
    assert structure_test(pair).has_structure and structure_test(_far(pair, rows, size)).has_structure


def test_values_near_the_float_limit_are_tested_like_any_other():
    """A uniform table scaled by 1e300 is still uniform (its variance used to overflow: z NaN)."""
    v = structure_test(_uniform() * 1e300)
    assert not v.has_structure and all(np.isfinite(x) for z in v.z.values() for x in z.values())
    X, _ = _four_blobs()
    assert structure_test(X * 1e300).has_structure


def test_many_far_rows_are_a_cluster_not_outliers():
    """Far rows beyond ``MAX_FAR_SHARE`` of the table are kept: 5 % of the rows in one far
    clump are a small cluster next to a Gaussian blob."""
    rng = np.random.default_rng(6)
    X = np.vstack([rng.normal(size=(1900, 3)), rng.normal(size=(100, 3)) * 0.3 + 40.0])
    v = structure_test(X)
    assert v.has_structure and v.far_rows == 0


def _write(path, X):
    np.savetxt(path, X, delimiter=",", header=",".join(f"c{j}" for j in range(X.shape[1])), comments="")
    return path


def test_cli_cluster_says_no_clusters_and_force_clusters(cli, tmp_path):
    path = _write(tmp_path / "u.csv", _uniform())
    out_csv = tmp_path / "labels.csv"
    code, out, err = cli("cluster", path, "--json", "-o", out_csv)
    assert code == 0, err
    data = json.loads(out)
    assert data["n_clusters"] == 1 and data["cluster_sizes"] == {"0": 2000}
    assert data["structure"]["has_structure"] is False and 0.0 <= data["confidence"] <= 1.0
    assert set(np.loadtxt(out_csv, skiprows=1).tolist()) == {0.0}
    code, out, err = cli("cluster", path)
    assert code == 0 and "no cluster structure found" in err
    code, out, err = cli("cluster", path, "--json", "--force")
    assert code == 0, err
    forced = json.loads(out)
    assert forced["algorithm"] != "none" and forced["structure"] is None  # the recommendation ran
    code, out, err = cli("recommend", path, "--top", "1")
    assert code == 0 and "no cluster structure found" in out


def test_cli_cluster_finds_four_blobs_with_confidence(cli, tmp_path):
    X, y = _four_blobs()
    path = _write(tmp_path / "b.csv", X)
    out_csv = tmp_path / "labels.csv"
    code, out, err = cli("cluster", path, "--json", "-o", out_csv)
    assert code == 0, err
    data = json.loads(out)
    assert data["structure"]["has_structure"] is True
    assert adjusted_rand_score(y, np.loadtxt(out_csv, skiprows=1)) >= 0.95
    assert 0.0 <= data["confidence"] <= 1.0
    parts = data["confidence_parts"]
    assert data["confidence"] == pytest.approx(min(parts["calibrated"], parts["stability"]), abs=1e-3)


def test_confidence_higher_for_separated_blobs_than_overlapping_gaussians():
    from metaclust_automl.recommend import Recommender
    from metaclust_automl.trust.verdict import recommendation_confidence

    rec = Recommender.default()
    X, _ = _four_blobs()
    rng = np.random.default_rng(5)
    over = np.vstack([rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2)) + [0.8, 0.0]])
    values = []
    for table in (X, over):
        best, run, _ = rec.cluster(table)
        values.append(recommendation_confidence(rec, table, best, run).value)
    assert values[0] > values[1] + 0.2


def test_shipped_calibration_loads_matches_kb_and_rejects_bad_files(tmp_path):
    from metaclust_automl.knowledge_base import load_default
    from metaclust_automl.selectors.state import kb_fingerprint
    from metaclust_automl.trust.confidence import Calibration

    cal = Calibration.load()
    assert cal.info["kb_fingerprint"] == kb_fingerprint(load_default()), \
        "the knowledge base changed: rebuild the calibration with `metaclust calibrate-confidence`"
    pred = cal.predict(np.zeros((3, cal.mean.size)))
    assert np.all((pred >= 0) & (pred <= 1))
    bad = cal.to_dict()
    bad["coef"] = bad["coef"][:-1]
    with pytest.raises(KnowledgeBaseError):
        Calibration.from_dict(bad)
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(KnowledgeBaseError):
        Calibration.load(tmp_path / "c.json")


def _one_column_table():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 200)
    X = rng.normal(size=(600, 5))
    X[:, 3] = y * 8.0 + rng.normal(size=600)
    return X, y


def test_explain_names_the_separating_column_first_for_every_cluster():
    import metaclust_automl

    X, y = _one_column_table()
    names = ["a", "b", "c", "key", "e"]
    e = metaclust_automl.explain(X, y, names)
    assert [c.cluster for c in e.clusters] == [0, 1, 2]
    assert all(c.features[0].name == "key" for c in e.clusters)
    assert e.clusters[0].features[0].direction == "low" and e.clusters[2].features[0].direction == "high"
    assert list(e.importance)[0] == "key"
    assert all("key" in c.rule and c.rule_precision > 0.95 for c in e.clusters)


def test_cli_explain_json_and_plot(cli, tmp_path):
    X, y = _one_column_table()
    data = tmp_path / "t.csv"
    np.savetxt(data, X, delimiter=",", header="a,b,c,key,e", comments="")
    labels = tmp_path / "labels.csv"
    np.savetxt(labels, y, fmt="%d", header="label", comments="")
    png = tmp_path / "e.png"
    code, out, err = cli("explain", data, labels, "--json", "--plot", png)
    assert code == 0, err
    payload = json.loads(out)
    assert [c["size"] for c in payload["clusters"]] == [200, 200, 200]
    assert all(c["features"][0]["name"] == "key" for c in payload["clusters"])
    assert png.stat().st_size > 0
    np.savetxt(labels, y[:10], fmt="%d", header="label", comments="")
    code, out, err = cli("explain", data, labels)
    assert code != 0 and "labels for 600 rows" in err and "Traceback" not in err
