"""The built-in corpus (ids, determinism, coverage, validity) and user directory corpora."""
from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from metaclust_automl.corpus import (
    LabelledTask,
    builtin_corpus,
    builtin_families,
    builtin_task_ids,
    load_builtin_task,
    load_corpus,
    load_directory,
    task_checksum,
    task_spec,
)
from metaclust_automl.generators import clusters as synthetic, real_subsets as augment
from metaclust_automl.corpus.builtin import spec_path
from metaclust_automl.errors import ConfigError, DataError

REQUIRED_FAMILIES = {
    "blobs-iso", "blobs-aniso", "density", "imbalance", "moons", "circles", "nested-rings",
    "spirals", "chains", "stripes", "noise", "outliers", "irrelevant-dims", "high-dim",
    "overlap", "col-scales", "many-blobs-2d", "shapes-mix",
    "digits", "wine", "iris", "breast-cancer",
}
NOISY_FAMILIES = {"noise", "outliers", "shapes-3d", "density-noise"}


@pytest.fixture(scope="module")
def corpus() -> list[LabelledTask]:
    """The whole built-in corpus, generated once for the module (about a second)."""
    return builtin_corpus()


# ----------------------------------------------------------------- ids and composition

def test_ids_unique_and_at_least_200():
    ids = builtin_task_ids()
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(("syn/", "real/")) and i.count("/") >= 2 for i in ids)


def test_every_family_present_and_balanced():
    fams = builtin_families()
    assert REQUIRED_FAMILIES <= set(fams)
    counts = Counter(i.split("/")[1] for i in builtin_task_ids())
    syn = [counts[f] for f in fams if task_spec(builtin_task_ids(families=[f])[0])["kind"] == "synthetic"]
    # the families added for issue 16 (heavy tails, hypercube classes, real-like columns, ...)
    # are larger than the first ones, but none may weigh more than a tenth of the corpus
    assert min(syn) >= 10, counts
    assert max(counts.values()) <= 0.1 * sum(counts.values()), counts


def test_ids_follow_the_documented_pattern():
    ids = set(builtin_task_ids())
    assert "syn/blobs-aniso/n600-d2-k3-aniso6-s0" in ids
    assert "real/digits/classes-0-3-5-6-8-9/std" in ids
    assert "real/digits/classes-0-1-2-3-4-5-6-7-8-9/raw" in ids
    assert "syn/noise/moons-n1000-noise0.1-s0" in ids  # another generator than the family's


def test_task_spec_describes_the_task():
    s = task_spec("syn/blobs-aniso/n600-d2-k3-aniso6-s0")
    assert s["family"] == s["group"] == "blobs-aniso"
    assert s["kind"] == "synthetic" and s["generator"] == "blobs"
    assert s["params"]["n"] == 600 and s["params"]["k"] == 3 and s["params"]["aniso"] == 6.0
    assert s["params"]["sep"] == 3.0  # defaults are filled in, so the record is complete
    assert s["seed"] == 0
    r = task_spec("real/digits/classes-0-3-5-6-8-9/std")
    assert r["kind"] == "real" and r["dataset"] == "digits" and r["loader"] == "sklearn.datasets.load_digits"
    assert r["params"]["classes"] == [0, 3, 5, 6, 8, 9] and r["params"]["scale"] == "std"
    json.dumps(s), json.dumps(r)  # plain data for the knowledge base manifest


def test_unknown_task_and_family_raise_config_error():
    with pytest.raises(ConfigError, match="no built-in task"):
        load_builtin_task("syn/blobs-iso/n401-d2-k3-s0")
    with pytest.raises(ConfigError, match="no built-in task"):
        task_spec("nonsense")
    with pytest.raises(ConfigError, match="unknown corpus family"):
        builtin_task_ids(families=["no-such-family"])
    with pytest.raises(ConfigError, match="limit"):
        builtin_corpus(limit=0)


# ------------------------------------------------------------------------ determinism

def test_same_id_same_data():
    for tid in ("syn/shapes-mix/n2000-parts9-s0", "syn/noise/moons-n1000-noise0.1-s0",
                "real/breast-cancer/classes-0-1/sub300-s1/raw"):
        a, b = load_builtin_task(tid), load_builtin_task(tid)
        assert a is not b
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        assert task_checksum(a) == task_checksum(b)


def test_seeds_and_parameters_give_different_data():
    a = load_builtin_task("syn/chains/n500-links3-jitter0.05-s0")
    b = load_builtin_task("syn/chains/n500-links3-jitter0.15-s0")
    c = load_builtin_task("real/breast-cancer/classes-0-1/sub300-s0/raw")
    d = load_builtin_task("real/breast-cancer/classes-0-1/sub300-s1/raw")
    assert task_checksum(a) != task_checksum(b)
    assert task_checksum(c) != task_checksum(d)


# Fingerprints of a few tasks (shape, label counts with noise first, sum, sum of squares,
# first value, first labels): if one of these fails, a task id no longer means the data that
# knowledge bases were trained on. Do not update them; add a new parameter or generator instead.
FINGERPRINTS = [
    ("syn/blobs-iso/n400-d2-k3-s0", (400, 2), [0, 134, 133, 133], 1474.626368803384, 3359.1530209019384),
    ("syn/blobs-aniso/n800-d2-k4-shear20-s0", (800, 2), [0, 200, 200, 200, 200], -2577.6654910224242,
     5522.43330421415),
    ("syn/moons/n300-jitter0.05-s0", (300, 2), [0, 150, 150], -1.7026632909931716, 301.72169803286306),
    ("syn/circles/n1000-d2-width0.2-center1-s0", (1000, 2), [0, 142, 285, 573], 94.00800960297155,
     2616.286359424612),
    ("syn/nested-rings/n2000-rings3-d3-s0", (2000, 3), [0, 142, 571, 1287], 148.0094014667478,
     13998.792528087266),
    ("syn/spirals/n1000-turns2.5-s0", (1000, 2), [0, 500, 500], 15.115510880071888, 3792.9728459149333),
    ("syn/chains/n500-links3-jitter0.05-s0", (500, 3), [0, 167, 167, 166], 732.7116895243926,
     2342.678165079543),
    ("syn/stripes/n1000-k4-bend2-s0", (1000, 2), [0, 250, 250, 250, 250], 5672.174304753997,
     37413.779048098295),
    ("syn/shapes-mix/n2000-parts9-s0", (2000, 2),
     [0, 223, 99, 177, 250, 140, 281, 79, 125, 111, 88, 158, 199, 70], 11409.200082135314, 55676.688330473975),
    ("syn/noise/moons-n1000-noise0.1-s0", (1000, 2), [100, 450, 450], 20.948849353492818, 1083.780823100627),
    ("syn/many-blobs-2d/n3500-d2-k35-spread2-layoutring-s0", (3500, 2), [0] + [100] * 35,
     -2.4536353035365437, 19843.639920934227),
    ("syn/col-scales/n1500-d5-k5-aniso5-scale3-s0", (1500, 5), [0] + [300] * 5, 467246.1408311669,
     174246962.14899558),
    ("syn/high-dim/n600-d100-k4-s0", (600, 100), [0, 150, 150, 150, 150], 59247.87064670888,
     185191.36170527386),
    ("real/digits/classes-0-3-5-6-8-9/std", (1078, 56), [0, 178, 183, 182, 181, 174, 180], 0.0, 60368.0),
    ("real/breast-cancer/classes-0-1/sub300-s1/raw", (300, 30), [0, 112, 188], 567501.907778,
     533825257.31557953),
]
ORDER = {
    "syn/blobs-iso/n400-d2-k3-s0": ([2, 1, 2, 0, 1, 0, 2, 0, 0, 1, 2, 2], 2.6308916020374484),
    "syn/noise/moons-n1000-noise0.1-s0": ([0, 0, 0, 0, 1, -1, 1, 1, 0, 1, 0, 1], 0.25532243285752526),
    "syn/shapes-mix/n2000-parts9-s0": ([7, 1, 2, 2, 7, 7, 2, 11, 8, 11, 0, 11], 6.01899150548508),
    "real/digits/classes-0-3-5-6-8-9/std": ([1, 2, 5, 3, 4, 0, 5, 2, 3, 0, 0, 4], -0.345230466876153),
}


@pytest.mark.parametrize("tid, shape, counts, total, squares", FINGERPRINTS)
def test_regression_fingerprints(tid, shape, counts, total, squares):
    t = load_builtin_task(tid)
    assert t.X.shape == shape
    assert np.bincount(t.y + 1).tolist() == counts
    assert np.isclose(t.X.sum(), total, rtol=1e-9, atol=1e-6)
    assert np.isclose((t.X ** 2).sum(), squares, rtol=1e-9, atol=1e-6)
    if tid in ORDER:
        labels, first = ORDER[tid]
        assert t.y[:12].tolist() == labels
        assert np.isclose(t.X[0, 0], first, rtol=1e-9)


def test_id_does_not_depend_on_the_rest_of_the_definition(tmp_path):
    """A definition listing one task among others gives the same data as the built-in one."""
    spec = {"format": "metaclust-corpus", "schema": 1, "families": [
        {"name": "moons", "kind": "synthetic", "generator": "moons",
         "tasks": [{"n": [300, 500], "jitter": [0.05, 0.3]}]},
        {"name": "blobs-iso", "kind": "synthetic", "generator": "blobs", "tasks": [{"n": 400, "k": 3, "d": 2}]},
    ]}
    path = tmp_path / "clustering.json"
    path.write_text(json.dumps(spec))
    ids = builtin_task_ids(spec=tmp_path)
    assert len(ids) == 5 and "syn/moons/n300-jitter0.05-s0" in ids
    for tid in ("syn/moons/n300-jitter0.05-s0", "syn/blobs-iso/n400-d2-k3-s0"):
        assert task_checksum(load_builtin_task(tid, spec=path)) == task_checksum(load_builtin_task(tid))


# ------------------------------------------------------------------ validity, coverage

def test_corpus_matches_load_builtin_task(corpus):
    assert [t.id for t in corpus] == builtin_task_ids()
    for t in corpus[::37]:
        alone = load_builtin_task(t.id)
        np.testing.assert_array_equal(alone.X, t.X)
        np.testing.assert_array_equal(alone.y, t.y)
        assert alone.group == t.group == task_spec(t.id)["family"]


def test_every_task_is_valid(corpus):
    for t in corpus:
        kind = task_spec(t.id)["kind"]
        assert t.X.dtype == np.float64 and t.X.ndim == 2 and t.X.flags.c_contiguous, t.id
        assert t.y.dtype == np.int64 and t.y.shape == (t.X.shape[0],), t.id
        assert np.isfinite(t.X).all(), t.id
        assert (t.X.max(axis=0) > t.X.min(axis=0)).all(), f"{t.id} has a constant column"
        labels = np.unique(t.y[t.y >= 0])
        assert labels.tolist() == list(range(labels.size)), t.id  # 0..k-1, no gaps
        assert 2 <= t.n_classes <= 40, t.id
        assert np.bincount(t.y[t.y >= 0]).min() >= 10, t.id
        assert t.y.min() >= -1
        if (t.y == -1).any():
            assert t.group in NOISY_FAMILIES, t.id
        if kind == "synthetic":
            assert 300 <= t.X.shape[0] <= 5000, t.id
            assert t.X.shape[1] <= 100, t.id
            assert t.source.startswith("synthetic:")
        else:
            assert t.source.startswith("sklearn.datasets.load_")


def test_coverage_of_what_fools_internal_indices(corpus):
    syn = [t for t in corpus if t.id.startswith("syn/")]
    n = np.array([t.X.shape[0] for t in corpus])
    assert np.mean(n <= 2000) >= 0.8  # meta-training runs every config on every task
    assert max(t.X.shape[1] for t in syn) == 100
    assert max(t.n_classes for t in syn) >= 35
    many_2d = [t for t in syn if t.X.shape[1] == 2 and t.n_classes >= 15]
    assert len(many_2d) >= 10
    noise_share = [float(np.mean(t.y == -1)) for t in corpus if t.group == "noise"]
    assert min(noise_share) >= 0.04 and max(noise_share) >= 0.25
    ranges = [np.ptp(t.X, axis=0) for t in corpus if t.group == "col-scales"]
    assert max(float(r.max() / r.min()) for r in ranges) > 1e3


def test_noise_rows_match_the_requested_share():
    t = load_builtin_task("syn/noise/n1000-d2-k4-spread5-noise0.3-s0")
    assert int(np.sum(t.y == -1)) == 300 and t.n_classes == 4
    o = load_builtin_task("syn/outliers/n1000-d2-k4-out0.06-s0")
    assert int(np.sum(o.y == -1)) == 60
    # outliers lie outside the structure
    c = o.X[o.y >= 0].mean(axis=0)
    r_in = np.linalg.norm(o.X[o.y >= 0] - c, axis=1).max()
    assert np.median(np.linalg.norm(o.X[o.y == -1] - c, axis=1)) > r_in


def test_limit_is_balanced_and_seeded():
    fams = builtin_families()
    small = builtin_corpus(limit=len(fams), seed=0)
    assert len(small) == len(fams)
    assert {t.group for t in small} == set(fams)
    again = builtin_corpus(limit=len(fams), seed=0)
    other = builtin_corpus(limit=len(fams), seed=1)
    assert [t.id for t in again] == [t.id for t in small]
    assert [t.id for t in other] != [t.id for t in small]
    kinds = builtin_task_ids(families=["real"])
    assert kinds and all(i.startswith("real/") for i in kinds)
    just = builtin_corpus(families=["iris"], limit=100)
    assert len(just) == len(builtin_task_ids(families=["iris"]))


# ------------------------------------------------------------------- the generators

def test_generators_are_deterministic_and_complete():
    for name in synthetic.GENERATORS:
        params = {"n": 400}
        a = synthetic.generate(name, params, np.random.default_rng(5))
        b = synthetic.generate(name, params, np.random.default_rng(5))
        c = synthetic.generate(name, params, np.random.default_rng(6))
        np.testing.assert_array_equal(a[0], b[0])
        assert a[0].shape[0] == 400 and not np.array_equal(a[0], c[0])


def test_common_transformations():
    rng = np.random.default_rng(0)
    X, y = synthetic.generate("moons", {"n": 500, "embed": 7, "irr": 3, "noise": 0.1, "out": 0.02}, rng)
    assert X.shape == (500, 10)
    assert int(np.sum(y == -1)) == 60
    # the embedded structure spans only 2 of the 7 rotated dimensions (plus a little noise)
    sv = np.linalg.svd(X[y >= 0][:, :7] - X[y >= 0][:, :7].mean(axis=0), compute_uv=False)
    assert sv[2] < 0.1 * sv[1]


def test_overlap_grows_as_sep_shrinks():
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    def ari(sep: float) -> float:
        X, y = synthetic.generate("blobs", {"n": 600, "d": 2, "k": 3, "sep": sep}, np.random.default_rng(3))
        pred = GaussianMixture(3, random_state=0, n_init=3).fit_predict(X)
        return adjusted_rand_score(y, pred)

    assert ari(5.0) > 0.95 > ari(0.75)


def test_invalid_generator_parameters():
    with pytest.raises(ConfigError, match="no parameter 'bogus'"):
        synthetic.resolve_params("blobs", {"bogus": 1})
    with pytest.raises(ConfigError, match="unknown generator"):
        synthetic.resolve_params("nope", {})
    with pytest.raises(ConfigError, match="layout"):
        synthetic.resolve_params("blobs", {"layout": "hex"})
    with pytest.raises(ConfigError, match="whole number"):
        synthetic.resolve_params("blobs", {"k": 2.5})
    with pytest.raises(ConfigError, match="clusters"):
        synthetic.generate("blobs", {"n": 100, "k": 40}, np.random.default_rng(0))


def test_real_augmentation():
    t = load_builtin_task("real/digits/classes-0-3-5-6-8-9/std")
    _, counts = augment.REAL_SHAPES["digits"]
    assert t.n_classes == 6 and t.X.shape[0] == sum(counts[c] for c in (0, 3, 5, 6, 8, 9))
    np.testing.assert_allclose(t.X.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(t.X.std(axis=0), 1.0, atol=1e-9)
    raw = load_builtin_task("real/digits/classes-0-3-5-6-8-9/raw")
    assert raw.X.min() == 0.0 and raw.X.max() == 16.0  # pixel values, not scaled
    sub = load_builtin_task("real/digits/classes-0-1-2-3-4-5-6-7-8-9/sub800-s0/std")
    assert sub.X.shape[0] == 800 and np.bincount(sub.y).min() >= 77  # stratified
    feat = load_builtin_task("real/breast-cancer/classes-0-1/feat5-s0/std")
    assert feat.X.shape == (569, 5)


def test_real_shapes_table_matches_the_data():
    for name, (cols, per_class) in augment.REAL_SHAPES.items():
        X, y = augment.load_real(name)
        assert X.shape[1] == cols
        assert tuple(np.bincount(y).tolist()) == per_class


def test_bad_definition_files(tmp_path):
    path = tmp_path / "clustering.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        builtin_task_ids(spec=path)
    path.write_text(json.dumps({"format": "other", "schema": 1, "families": []}))
    with pytest.raises(ConfigError, match="not a metaclust corpus"):
        builtin_task_ids(spec=path)
    base = {"format": "metaclust-corpus", "schema": 1}
    dup = {**base, "families": [{"name": "m", "kind": "synthetic", "generator": "moons",
                                 "tasks": [{"n": 300}, {"n": 300, "jitter": 0.1}]}]}
    path.write_text(json.dumps(dup))
    with pytest.raises(ConfigError, match="listed twice"):
        builtin_task_ids(spec=path)
    wrong = {**base, "families": [{"name": "m", "kind": "synthetic", "generator": "moons",
                                   "tasks": [{"n": 300, "arms": 3}]}]}
    path.write_text(json.dumps(wrong))
    with pytest.raises(ConfigError, match="no parameter 'arms'"):
        builtin_task_ids(spec=path)
    with pytest.raises(ConfigError, match="not found"):
        builtin_task_ids(spec=tmp_path / "missing")


def test_definition_found_through_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("METACLUST_META_DATASETS", str(tmp_path))
    with pytest.raises(ConfigError, match="METACLUST_META_DATASETS|not found"):
        spec_path()
    (tmp_path / "clustering.json").write_text(json.dumps({"format": "metaclust-corpus", "schema": 1, "families": [
        {"name": "iris", "kind": "real", "tasks": [{"classes": [[0, 1]], "scale": "std"}]}]}))
    assert builtin_task_ids() == ["real/iris/classes-0-1/std"]


# ---------------------------------------------------------------- user directory corpora

def _blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    X = rng.normal(size=(n, 3)) + 4.0 * y[:, None]
    return X, y


def test_directory_data_gz_with_labels0(tmp_path):
    X, y = _blobs()
    raw = y + 1
    raw[:5] = 0  # label 0 = noise, not scored
    sub = tmp_path / "battery"
    sub.mkdir()
    with gzip.open(sub / "three.data.gz", "wt") as fh:
        np.savetxt(fh, X)
    with gzip.open(sub / "three.labels0.gz", "wt") as fh:
        np.savetxt(fh, raw, fmt="%d")
    (sub / "three.txt").write_text("a description, not a table")
    [t] = load_directory(tmp_path)
    assert t.id == "battery/three" and t.group == "battery"
    np.testing.assert_allclose(t.X, X)
    assert (t.y[:5] == -1).all() and t.n_classes == 3
    assert t.y[5:].tolist() == (y[5:]).tolist()


def test_directory_data_gz_without_labels_is_an_error(tmp_path):
    X, _ = _blobs()
    with gzip.open(tmp_path / "lonely.data.gz", "wt") as fh:
        np.savetxt(fh, X)
    with pytest.raises(DataError, match="labels"):
        load_directory(tmp_path)


def test_directory_csv_label_column_and_alternative(tmp_path):
    X, y = _blobs()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["label"] = np.array(["x", "y", "z"])[y]
    frame.to_csv(tmp_path / "run.v2.csv", index=False)
    [t] = load_directory(tmp_path)
    assert t.id == "run.v2" and t.X.shape == (60, 3) and t.n_classes == 3
    np.testing.assert_allclose(t.X, X)
    other = tmp_path / "other"
    other.mkdir()
    frame.rename(columns={"label": "species"}).to_csv(other / "t.csv", index=False)
    with pytest.raises(DataError, match="label"):
        load_directory(other)
    [t2] = load_directory(other, label_column="species")
    assert t2.X.shape == (60, 3) and t2.n_classes == 3


def test_directory_parquet_and_npz(tmp_path):
    X, y = _blobs()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["label"] = y
    frame.loc[0, "label"] = None  # a missing label is not scored
    frame.to_parquet(tmp_path / "p.parquet")
    np.savez(tmp_path / "z.npz", X=X, y=y)
    tasks = load_directory(tmp_path)
    assert [t.id for t in tasks] == ["p", "z"]
    p, z = tasks
    assert p.y[0] == -1 and p.n_classes == 3 and p.X.shape == (60, 3)
    np.testing.assert_allclose(z.X, X)
    assert z.y.tolist() == y.tolist()


def test_npz_without_labels_is_an_error(tmp_path):
    X, _ = _blobs()
    np.savez(tmp_path / "nolabels.npz", X=X)
    with pytest.raises(DataError, match="label"):
        load_directory(tmp_path)


def test_duplicate_and_missing_corpora(tmp_path):
    X, y = _blobs()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for d in (a, b):
        np.savez(d / "same.npz", X=X, y=y)
    assert len(load_corpus([a])) == 1
    with pytest.raises(DataError, match="twice"):
        load_corpus([a, b])
    np.savez(a / "same2.npz", X=X, y=y)
    pd.DataFrame({"x": X[:, 0], "label": y}).to_csv(a / "same2.csv", index=False)
    with pytest.raises(DataError, match="twice"):
        load_directory(a)
    with pytest.raises(DataError, match="not found"):
        load_directory(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.csv").write_text("x,label\n1,0\n")
    with pytest.raises(DataError, match="no labelled tasks"):
        load_directory(empty)
