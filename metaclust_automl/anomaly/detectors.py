"""The standard unsupervised detectors whose scores make up the policy's state.

Each is written here with numpy and scikit-learn (pyod is not a dependency: it pulls
numba). Every detector is fitted on a *reference* set of at most ``max_reference`` rows
(all rows of smaller tables), so scoring n rows costs O(n) and a 50,000-row table stays
fast; the neighbour-based ones scale their k with the sample so the neighbourhood keeps
its size.

Conventions: scores are "higher = more anomalous", always finite. The bank standardises
the columns with the reference's mean and standard deviation and drops the columns that
are constant on it (some detectors divide by a spread and would return inf on them).
Duplicate rows are kept: kNN distance is 0 on a pile of duplicates (a very dense place,
which is right), and LOF floors its reachability distances at a small fraction of the
typical neighbour distance so a pile of exact duplicates cannot give an infinite density
(scikit-learn's LOF adds 1e-10 instead and produces ratios of 1e10).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from .neighbors import kneighbors

#: the detectors, in the order of the state's columns
DETECTOR_NAMES: tuple[str, ...] = ("iforest", "knn", "knn_wide", "lof", "ecod", "copod", "hbos", "mahalanobis",
                                   "pca", "gmm")

#: descriptions for ``metaclust plugins`` and the benchmark's report
DESCRIPTIONS: dict[str, str] = {
    "iforest": "Isolation forest (scikit-learn, 100 trees, 256 rows per tree)",
    "knn": "distance to the 5th nearest neighbour",
    "knn_wide": "distance to the k-th nearest neighbour, k = 3% of the rows (20 to 200): sees small clusters of anomalies",
    "lof": "local outlier factor with 20 neighbours",
    "ecod": "empirical-CDF outlier detection (tail probabilities per column, skew-aware)",
    "copod": "copula-based outlier detection (empirical copula tail probabilities)",
    "hbos": "histogram-based outlier score (10 bins per column)",
    "mahalanobis": "Mahalanobis distance to the mean (regularised covariance)",
    "pca": "reconstruction error off the principal components holding 90% of the variance",
    "gmm": "negative log-likelihood under a 4-component Gaussian mixture (full covariances)",
}

KNN_K = 5
LOF_K = 20
#: knn_wide's k as a share of the rows, and its bounds
WIDE_SHARE, WIDE_MIN, WIDE_MAX = 0.03, 20, 200
GMM_COMPONENTS = 4
#: rows of the reference the mixture is fitted on (bounded cost)
GMM_ROWS = 3000
GMM_MIN_WEIGHT = 0.05
HBOS_BINS = 10
HBOS_ALPHA = 0.1
PCA_VARIANCE = 0.9
#: LOF's reachability distances are floored at this fraction of the median positive k-distance
LOF_FLOOR = 1e-3


def _scaled_k(k: int, n: int, m: int) -> int:
    """The neighbour count among m sampled rows that matches k among all n rows."""
    return int(min(max(1, round(k * m / max(n, 1))), m - 1))


@dataclass
class DetectorBank:
    """Fits every base detector on one table and scores rows with all of them.

    ``fit(X)`` returns the in-sample scores (neighbour-based detectors leave each row out of
    its own neighbourhood); ``score(X)`` scores new rows against the fitted reference.
    """

    max_reference: int = 10_000
    seed: int = 0
    names: tuple[str, ...] = DETECTOR_NAMES
    # fitted state
    keep_: np.ndarray | None = field(default=None, repr=False)
    prescale_: np.ndarray | None = field(default=None, repr=False)
    mean_: np.ndarray | None = field(default=None, repr=False)
    scale_: np.ndarray | None = field(default=None, repr=False)
    R_: np.ndarray | None = field(default=None, repr=False)
    n_fit_: int = 0
    _state: dict = field(default_factory=dict, repr=False)

    # --- preprocessing ------------------------------------------------------------------
    def transform(self, X: np.ndarray) -> np.ndarray:
        """The standardised kept columns of X (what every detector sees)."""
        # Dividing by the largest magnitude first keeps values of 1e300 or 1e-300 from
        # overflowing or underflowing on the way.
        return (X[:, self.keep_] / self.prescale_ - self.mean_) / self.scale_

    def fit(self, X: np.ndarray) -> np.ndarray:
        """Fit on ``X`` (validated float matrix); returns in-sample scores, shape (n, len(names))."""
        n, d = X.shape
        rng = np.random.default_rng(self.seed)
        if n > self.max_reference:
            ref_idx = np.sort(rng.choice(n, self.max_reference, replace=False))
        else:
            ref_idx = np.arange(n)
        R0 = X[ref_idx]
        span = R0.max(axis=0) - R0.min(axis=0)
        keep = span > 0
        if not keep.any():
            raise DataError("every column is constant (on the reference sample); "
                            "there is nothing to tell anomalies from normal rows")
        self.keep_ = np.flatnonzero(keep)
        self.prescale_ = np.abs(R0[:, self.keep_]).max(axis=0)
        R0 = R0[:, self.keep_] / self.prescale_
        self.mean_ = R0.mean(axis=0)
        std = R0.std(axis=0)
        self.scale_ = np.where(std > 1e-12 * np.maximum(1.0, np.abs(self.mean_)), std, 1.0)
        Z = self.transform(X)
        self.R_ = Z[ref_idx]
        self.n_fit_ = n
        self_index = np.full(n, -1, dtype=np.int64)
        self_index[ref_idx] = np.arange(ref_idx.size)
        return self._score(Z, fit=True, self_index=self_index, rng=rng)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Scores of new rows, shape (n, len(names))."""
        if self.R_ is None:
            raise DataError("the detector bank is not fitted")
        return self._score(self.transform(X), fit=False, self_index=None, rng=None)

    # --- detectors -----------------------------------------------------------------------
    def _score(self, Z: np.ndarray, *, fit: bool, self_index: np.ndarray | None,
               rng: np.random.Generator | None) -> np.ndarray:
        out = {}
        wanted = set(self.names)
        if "iforest" in wanted:
            out["iforest"] = self._iforest(Z, fit, rng)
        if wanted & {"knn", "knn_wide", "lof"}:
            out.update(self._neighbours(Z, fit, self_index))
        if wanted & {"ecod", "copod"}:
            out.update(self._ecdf(Z, fit))
        if "hbos" in wanted:
            out["hbos"] = self._hbos(Z, fit)
        if wanted & {"mahalanobis", "pca"}:
            out.update(self._gaussian(Z, fit))
        if "gmm" in wanted:
            out["gmm"] = self._gmm(Z, fit, rng)
        S = np.column_stack([out[name] for name in self.names]).astype(np.float64)
        # Last line of defence: a score is always finite.
        return np.nan_to_num(S, nan=0.0, posinf=np.finfo(np.float64).max / 1e3, neginf=0.0)

    def _iforest(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None) -> np.ndarray:
        if fit:
            from sklearn.ensemble import IsolationForest

            seed = int(rng.integers(2**31 - 1))
            forest = IsolationForest(n_estimators=100, max_samples=min(256, self.R_.shape[0]),
                                     random_state=seed, n_jobs=1)
            forest.fit(self.R_)
            self._state["iforest"] = forest
        return -self._state["iforest"].score_samples(Z)

    def _neighbours(self, Z: np.ndarray, fit: bool, self_index: np.ndarray | None) -> dict[str, np.ndarray]:
        R = self.R_
        m = R.shape[0]
        if m < 2:
            return {"knn": np.zeros(Z.shape[0]), "knn_wide": np.zeros(Z.shape[0]), "lof": np.zeros(Z.shape[0])}
        k_knn = _scaled_k(KNN_K, self.n_fit_, m)
        k_lof = _scaled_k(LOF_K, self.n_fit_, m)
        wide = int(np.clip(round(WIDE_SHARE * self.n_fit_), WIDE_MIN, WIDE_MAX))
        k_wide = _scaled_k(wide, self.n_fit_, m)
        k_max = max(k_knn, k_lof, k_wide)
        dist = idx = None
        if fit:
            # The reference's own k-distances (leave-one-out), needed by LOF; when the
            # reference is the whole table they come from the same search.
            if m == Z.shape[0]:
                dist, idx = kneighbors(Z, R, k_max, self_index=self_index)
                rd, ri = dist[:, :k_lof], idx[:, :k_lof]
            else:
                rd, ri = kneighbors(R, R, k_lof, self_index=np.arange(m))
            kdist = rd[:, -1]
            positive = kdist[kdist > 0]
            floor = LOF_FLOOR * (float(np.median(positive)) if positive.size else 1.0)
            reach = np.maximum(np.maximum(kdist[ri], rd), floor)
            self._state["lof"] = (kdist, 1.0 / reach.mean(axis=1), floor)
        kdist, lrd_ref, floor = self._state["lof"]
        if dist is None:
            dist, idx = kneighbors(Z, R, k_max, self_index=self_index)
        knn = dist[:, k_knn - 1]
        d, i = dist[:, :k_lof], idx[:, :k_lof]
        reach = np.maximum(np.maximum(kdist[i], d), floor)
        lrd = 1.0 / reach.mean(axis=1)
        lof = lrd_ref[i].mean(axis=1) / lrd
        return {"knn": knn, "knn_wide": dist[:, k_wide - 1], "lof": lof}

    def _ecdf(self, Z: np.ndarray, fit: bool) -> dict[str, np.ndarray]:
        if fit:
            R = self.R_
            sorted_cols = np.sort(R, axis=0)
            mu = R.mean(axis=0)
            sd = R.std(axis=0)
            skew = np.mean(((R - mu) / np.where(sd > 0, sd, 1.0)) ** 3, axis=0)
            self._state["ecdf"] = (sorted_cols, np.sign(skew))
        sorted_cols, skew_sign = self._state["ecdf"]
        m = sorted_cols.shape[0]
        n, d = Z.shape
        u_left = np.empty((n, d))
        u_right = np.empty((n, d))
        for j in range(d):
            col = sorted_cols[:, j]
            le = np.searchsorted(col, Z[:, j], side="right")  # reference values <= x
            ge = m - np.searchsorted(col, Z[:, j], side="left")  # reference values >= x
            # (count + 1) / (m + 1): never 0, so -log never inf, in or out of sample.
            u_left[:, j] = -np.log((le + 1.0) / (m + 1.0))
            u_right[:, j] = -np.log((ge + 1.0) / (m + 1.0))
        # The tail that the column's skew points to (pyod's "skewness-corrected" tail).
        u_skew = np.where(skew_sign < 0, u_left, u_right)
        ecod = np.maximum(u_skew, np.maximum(u_left, u_right)).sum(axis=1)
        copod = np.maximum(u_skew, 0.5 * (u_left + u_right)).sum(axis=1)
        return {"ecod": ecod, "copod": copod}

    def _hbos(self, Z: np.ndarray, fit: bool) -> np.ndarray:
        if fit:
            R = self.R_
            tables = []
            for j in range(R.shape[1]):
                density, edges = np.histogram(R[:, j], bins=HBOS_BINS, density=True)
                tables.append((density, edges))
            self._state["hbos"] = tables
        out = np.zeros(Z.shape[0])
        for j, (density, edges) in enumerate(self._state["hbos"]):
            x = Z[:, j]
            b = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, HBOS_BINS - 1)
            inside = (x >= edges[0]) & (x <= edges[-1])
            dens = np.where(inside, density[b], 0.0)
            out += -np.log(dens + HBOS_ALPHA)
        return out

    def _gaussian(self, Z: np.ndarray, fit: bool) -> dict[str, np.ndarray]:
        if fit:
            R = self.R_
            mu = R.mean(axis=0)
            C = np.cov(R - mu, rowvar=False).reshape(R.shape[1], R.shape[1])
            vals, vecs = np.linalg.eigh(C)
            vals = vals[::-1].clip(min=0.0)
            vecs = vecs[:, ::-1]
            top = vals[0] if vals.size and vals[0] > 0 else 1.0
            floored = np.maximum(vals, 1e-6 * top)
            share = np.cumsum(vals) / max(vals.sum(), 1e-300)
            q = int(min(np.searchsorted(share, PCA_VARIANCE) + 1, max(R.shape[1] - 1, 1)))
            self._state["gauss"] = (mu, vecs, floored, q)
        mu, vecs, vals, q = self._state["gauss"]
        P = (Z - mu) @ vecs
        maha = np.sqrt(np.einsum("ij,ij->i", P / vals, P))
        minor = P[:, q:]
        pca = np.sqrt(np.einsum("ij,ij->i", minor, minor)) if minor.shape[1] else np.zeros(Z.shape[0])
        return {"mahalanobis": maha, "pca": pca}

    def _gmm(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None) -> np.ndarray:
        if fit:
            from sklearn.mixture import GaussianMixture

            R = self.R_
            rows = R if R.shape[0] <= GMM_ROWS else R[np.sort(rng.choice(R.shape[0], GMM_ROWS, replace=False))]
            k = int(min(GMM_COMPONENTS, max(1, rows.shape[0] // (5 * (rows.shape[1] + 1)))))
            # reg_covar on standardised columns: a floor of 1e-3 of a column's variance keeps the
            # covariances invertible on discrete or duplicated data (no infinite likelihoods).
            seed = int(rng.integers(2**31 - 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a mixture that has not fully converged still scores
                # A component must hold GMM_MIN_WEIGHT of the rows: one spent on a few far rows
                # would give those anomalies a high likelihood. Fewer components until it does.
                gm = None
                for k in range(k, 0, -1):
                    try:
                        gm = GaussianMixture(n_components=k, covariance_type="full", reg_covar=1e-3,
                                             max_iter=100, random_state=seed).fit(rows)
                    except ValueError:  # degenerate components: try fewer
                        continue
                    if gm.weights_.min() >= GMM_MIN_WEIGHT:
                        break
            if gm is None:
                gm = GaussianMixture(n_components=1, covariance_type="full", reg_covar=1e-2,
                                     random_state=seed).fit(rows)
            self._state["gmm"] = gm
        return -self._state["gmm"].score_samples(Z)
