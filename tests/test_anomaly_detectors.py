"""The base detectors, the state features and the corpus generator (no policy needed)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from metaclust_automl.generators.anomalies import KINDS, check_spec, generate, make_anomalies, random_mixture
from metaclust_automl.anomaly.detectors import DETECTOR_NAMES, DetectorBank
from metaclust_automl.anomaly.features import feature_names, mid_ranks
from metaclust_automl.anomaly.neighbors import kneighbors
from metaclust_automl.anomaly.observe import observe
from metaclust_automl.errors import ConfigError, DataError


def planted(n: int = 300, d: int = 4, n_out: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:n_out] += 8.0 * rng.choice([-1.0, 1.0], size=(n_out, d))
    y = np.zeros(n, dtype=int)
    y[:n_out] = 1
    return X, y


def test_kneighbors_matches_exact_search_and_leaves_self_out() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    dist, idx = kneighbors(X, X, 4, self_index=np.arange(80))
    exact_d, exact_i = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(X)
    assert not np.any(idx == np.arange(80)[:, None])
    np.testing.assert_allclose(dist, exact_d[:, 1:], atol=1e-9)


def test_kneighbors_keeps_duplicates_as_neighbours() -> None:
    X = np.vstack([np.zeros((3, 2)), np.eye(2) * 5])
    dist, idx = kneighbors(X, X, 2, self_index=np.arange(5))
    # the three identical rows see each other at distance 0, never themselves
    assert np.all(dist[:3] == 0.0)
    assert not np.any(idx[:3] == np.arange(3)[:, None])


# pca is pyod's score (test_pca_detector_is_pyods_pca_score), dominated by the minor axes
@pytest.mark.parametrize("name", [d for d in DETECTOR_NAMES if d != "pca"])
def test_each_detector_ranks_a_planted_global_outlier_first(name: str) -> None:
    # a mixture may spend a component on a handful of far rows, so it gets a lone outlier
    n_out = 1 if name == "gmm" else 6
    X, y = planted(n_out=n_out)
    S = DetectorBank(names=(name,)).fit(X)[:, 0]
    assert np.all(np.isfinite(S))
    top = np.argsort(-S)[:n_out]
    assert set(top) == set(np.flatnonzero(y)), f"{name} missed the planted outliers"


def test_mahalanobis_ranks_rows_off_the_principal_subspace_first() -> None:
    rng = np.random.default_rng(4)
    A = rng.normal(size=(2, 5))
    X = rng.normal(size=(300, 2)) @ A + 0.05 * rng.normal(size=(300, 5))
    null = np.linalg.svd(A)[2][2:]  # directions orthogonal to the data's plane
    X[:5] += 3.0 * rng.normal(size=(5, 3)) @ null
    S = DetectorBank(names=("mahalanobis",)).fit(X)[:, 0]
    assert set(np.argsort(-S)[:5]) == set(range(5))


def test_scores_are_finite_with_duplicates_and_constant_columns() -> None:
    rng = np.random.default_rng(2)
    X = np.round(rng.normal(size=(200, 3)), 0)  # heavy duplication
    X = np.hstack([X, np.full((200, 2), 7.0)])  # constant columns
    X = np.vstack([X, np.repeat(X[:1], 40, axis=0)])  # a pile of 41 identical rows (row 0 and 40 copies)
    bank = DetectorBank()
    S = bank.fit(X)
    assert np.all(np.isfinite(S)) and S.shape == (240, len(DETECTOR_NAMES))
    assert bank.keep_.tolist() == [0, 1, 2]
    # identical rows get identical scores
    np.testing.assert_allclose(S[200:], np.broadcast_to(S[0], (40, S.shape[1])))
    assert np.all(np.isfinite(bank.score(X + 100.0)))


def test_all_constant_table_is_a_clear_data_error() -> None:
    with pytest.raises(DataError, match="constant"):
        DetectorBank().fit(np.ones((20, 3)))


def test_reference_sample_keeps_big_tables_working() -> None:
    X, y = planted(n=1500, n_out=10, seed=3)
    S = DetectorBank(max_reference=200).fit(X)
    assert np.all(np.isfinite(S))
    from sklearn.metrics import roc_auc_score

    for j, name in enumerate(DETECTOR_NAMES):
        if name != "pca":  # pyod's PCA score weighs the minor axes (see its own test)
            assert roc_auc_score(y, S[:, j]) > 0.95, name


def test_mid_ranks_split_ties() -> None:
    ref = np.sort(np.array([1.0, 2.0, 2.0, 3.0]))
    np.testing.assert_allclose(mid_ranks(ref, np.array([0.0, 2.0, 5.0])), [0.0, 0.5, 1.0])


def test_observation_state_layout_and_out_of_sample_scoring() -> None:
    X, _ = planted()
    obs = observe(X, seed=0)
    assert obs.state.shape == (300, len(feature_names(DETECTOR_NAMES)))
    assert np.all(np.isfinite(obs.state))
    new = obs.state_of(X[:5] * 3.0)
    assert new.shape == (5, obs.state.shape[1]) and np.all(np.isfinite(new))
    # the same seed gives the same state
    np.testing.assert_array_equal(observe(X, seed=0).state, obs.state)


@pytest.mark.parametrize("kind", KINDS)
def test_anomaly_kinds_are_generated_with_the_right_shape(kind: str) -> None:
    rng = np.random.default_rng(0)
    mix = random_mixture(5, rng, 3)
    normal = mix.sample(200, rng)
    anom = make_anomalies(kind, normal, 12, rng, mix)
    assert anom.shape == (12, 5) and np.all(np.isfinite(anom))


TINY_SPEC = {
    "format": "metaclust-anomaly-corpus", "seed": 5, "max_rows": 300,
    "augment": {"marginals": 0.5, "discretize": 0.5, "noise_columns": 0.5, "constant_columns": 0.5, "duplicates": 0.5},
    "families": [
        {"family": "synthetic", "count": 3, "dims": [3, 6], "rows": [100, 200], "contamination": [0.05, 0.1]},
        {"family": "manifold", "count": 2, "dims": [3], "rows": [100, 200], "contamination": [0.1]},
        {"family": "injected", "count": 2, "sources": ["iris", "wine"], "contamination": [0.1]},
        {"family": "rare_class", "count": 2, "sources": ["iris", "wine"], "contamination": [0.1]},
    ],
}


def test_corpus_is_deterministic_and_labelled() -> None:
    a, b = list(generate(TINY_SPEC)), list(generate(TINY_SPEC))
    assert [t.id for t in a] == [t.id for t in b] and len(a) == 9
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X, tb.X)
        assert 0 < ta.y.sum() < ta.y.size and ta.X.shape[0] <= 300
    assert {t.group for t in a} == {"synthetic", "manifold", "injected", "rare_class"}


@pytest.mark.parametrize("bad", [
    {"format": "nope"},
    {"format": "metaclust-anomaly-corpus", "families": []},
    {"format": "metaclust-anomaly-corpus", "families": [{"family": "synthetic", "count": 1, "contamination": [0.7]}]},
    {"format": "metaclust-anomaly-corpus", "families": [{"family": "synthetic", "count": 1, "anomalies": ["odd"]}]},
    {"format": "metaclust-anomaly-corpus", "families": [{"family": "injected", "count": 1, "sources": ["covtype"]}]},
])
def test_bad_corpus_specs_are_rejected(bad: dict) -> None:
    with pytest.raises(ConfigError):
        check_spec(bad)


def test_a_very_wide_table_is_scored_without_any_width_squared_step(monkeypatch) -> None:
    # Issue 14: `detect` on 5 x 10,000 ran an eigh on a 10k x 10k covariance. Wider than
    # COV_WIDTH, no d x d matrix may be formed (np.cov / eigh / corrcoef on the full width),
    # and the rows are still scored: a planted far row comes first.
    from metaclust_automl.anomaly import detectors, features

    d = 10_000
    real_cov, real_eigh, real_corr = np.cov, np.linalg.eigh, np.corrcoef

    def guard(real):
        def call(a, *args, **kwargs):
            arr = np.asarray(a)
            width = arr.shape[0] if arr.ndim == 2 and arr.shape[0] == arr.shape[-1] else arr.shape[-1]
            if kwargs.get("rowvar", True) is False:
                width = arr.shape[1]
            assert width <= max(detectors.COV_WIDTH, features.SAMPLE_COLUMNS), f"a {width}-wide square step"
            return real(a, *args, **kwargs)
        return call

    monkeypatch.setattr(np, "cov", guard(real_cov))
    monkeypatch.setattr(np.linalg, "eigh", guard(real_eigh))
    monkeypatch.setattr(np, "corrcoef", guard(real_corr))
    rng = np.random.default_rng(0)
    for n in (5, 40):
        X = rng.normal(size=(n, d))
        X[0] += 3.0  # one row far from the others in every column
        obs = observe(X, seed=0)
        assert obs.state.shape == (n, len(feature_names(DETECTOR_NAMES))) and np.all(np.isfinite(obs.state))
        if n == 40:
            for j, name in enumerate(DETECTOR_NAMES):
                if name not in ("hbos", "loda", "inne", "mst"):  # coarse or sampled on 40 rows: ties
                    assert np.argmax(obs.scores[:, j]) == 0, name


def test_wide_mahalanobis_keeps_the_minor_directions_as_a_residual() -> None:
    # Past COV_WIDTH the covariance detectors work on the leading principal directions plus
    # one isotropic residual: a row that breaks the table's low-rank structure (it lies off
    # the leading directions) must still stand out.
    rng = np.random.default_rng(1)
    d, n = 300, 400
    X = rng.normal(size=(n, 5)) @ rng.normal(size=(5, d)) + 0.05 * rng.normal(size=(n, d))
    X[:4] += 1.0 * rng.normal(size=(4, d))  # off the 5-dimensional structure
    S = DetectorBank(names=("mahalanobis", "pca")).fit(X)
    assert set(np.argsort(-S[:, 0])[:4]) == set(range(4))


def test_pca_detector_is_pyods_pca_score() -> None:
    pyod_pca = pytest.importorskip("pyod.models.pca")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    bank = DetectorBank(names=("pca",))
    ours = bank.fit(X)[:, 0]
    theirs = pyod_pca.PCA().fit(bank.transform(X)).decision_scores_
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_inne_isolates_rows_outside_every_hypersphere() -> None:
    X, y = planted(n=400, n_out=5, seed=7)
    bank = DetectorBank(names=("inne",), seed=1)
    S = bank.fit(X)[:, 0]
    assert np.all((S >= 0) & (S <= 1))
    assert S[y == 1].min() > np.quantile(S[y == 0], 0.95)
    # far new rows fall in no sphere: score 1 in every set
    np.testing.assert_allclose(bank.score(np.full((2, 4), 50.0))[:, 0], 1.0)


def test_heavy_tailed_family_draws_student_t_columns() -> None:
    spec = {"format": "metaclust-anomaly-corpus", "seed": 3, "max_rows": 3000, "augment": {},
            "families": [{"family": "synthetic", "count": 2, "dims": [4], "rows": [2000, 2000], "tails": [2.5],
                          "max_components": 1, "contamination": [0.02], "anomalies": ["global"]},
                         {"family": "synthetic", "count": 2, "dims": [4], "rows": [2000, 2000],
                          "max_components": 1, "contamination": [0.02], "anomalies": ["global"]}]}
    tasks = list(generate(spec))
    def kurtosis(t) -> float:
        Z = t.X[t.y == 0]
        Z = (Z - Z.mean(0)) / Z.std(0)
        return float(np.mean(Z**4))
    heavy, light = [kurtosis(t) for t in tasks[:2]], [kurtosis(t) for t in tasks[2:]]
    assert min(heavy) > 6.0 and max(light) < 4.0


def test_histogram_bins_by_arithmetic_match_a_search_of_the_edges() -> None:
    from metaclust_automl.anomaly.detectors import _bin_density

    rng = np.random.default_rng(5)
    for trial in range(60):
        ref = rng.normal(size=200) * rng.uniform(0.01, 100.0)
        if trial % 2:
            ref = np.round(ref)  # discrete values sit exactly on bin edges
        density, edges = np.histogram(ref, bins=int(rng.integers(2, 15)), density=True)
        x = np.concatenate([ref, edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf),
                            3.0 * ref.std() * rng.normal(size=50)])
        b = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, density.size - 1)
        expected = np.where((x >= edges[0]) & (x <= edges[-1]), density[b], 0.0)
        np.testing.assert_array_equal(_bin_density(x, density, edges), expected)


def test_spanning_tree_attachments_reused_from_the_main_search_equal_a_search_of_the_tree() -> None:
    # 3,000 rows: the tree is a sample of the reference, so most rows reuse the main search
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 5))
    bank = DetectorBank(names=("knn", "mst"))
    S = bank.fit(X)
    alone = DetectorBank(names=("mst",)).fit(X)  # no main search: the tree is searched directly
    np.testing.assert_allclose(S[:, 1], alone[:, 0], rtol=1e-12)
    new = rng.normal(size=(200, 5)) * 1.5
    only_tree = DetectorBank(names=("mst",))
    only_tree.fit(X)
    np.testing.assert_allclose(bank.score(new)[:, 1], only_tree.score(new)[:, 0], rtol=1e-12)
