"""The standard unsupervised detectors whose scores make up the policy's state.

Each is written here with numpy, scikit-learn and ``deadwood`` (the MST). pyod's versions
were measured side by side on the dev sets (``python bench/anomaly.py --pyod``,
``bench/results/anomaly_pyod.md``); each hand-written one is kept for a measured reason
given in ``DESCRIPTIONS`` (the same ROC-AUC at a fraction of the time, mostly because the
neighbour search is shared and fits are sampled; pyod fits every detector on every row).
Every detector is fitted on a *reference* set of at most ``max_reference`` rows
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
DETECTOR_NAMES: tuple[str, ...] = ("iforest", "knn", "knn_20", "knn_wide", "lof", "ecod", "copod", "hbos",
                                   "mahalanobis", "pca", "gmm", "loda", "inne", "kde", "mst")

#: descriptions for ``metaclust plugins`` and the benchmark's report
DESCRIPTIONS: dict[str, str] = {
    "iforest": "Isolation forest (scikit-learn, 100 trees, 256 rows per tree)",
    "knn": "distance to the 5th nearest neighbour",
    "knn_20": "distance to the 20th nearest neighbour",
    "knn_wide": "distance to the k-th nearest neighbour, k = 3% of the rows (20 to 200): sees small clusters of anomalies",
    "lof": "local outlier factor with 20 neighbours",
    "ecod": "empirical-CDF outlier detection (tail probabilities per column, skew-aware)",
    "copod": "copula-based outlier detection (empirical copula tail probabilities)",
    "hbos": "histogram-based outlier score (10 bins per column)",
    "mahalanobis": "Mahalanobis distance to the mean (regularised covariance)",
    "pca": "pyod's PCA score: distances to the principal axes, weighted by 1 / explained variance ratio "
           "(pyod's arithmetic, without importing pyod; its reconstruction-error version scored 0.640 on the dev sets, this 0.767)",
    "gmm": "negative log-likelihood under a 4-component Gaussian mixture (full covariances)",
    "loda": "LODA: mean negative log-density of 100 sparse random one-dimensional projections (histograms)",
    "inne": "INNE: isolation by nearest-neighbour hyperspheres (100 sets of 8 sampled rows)",
    "kde": "negative log of a Gaussian kernel density over the nearest reference rows (one global bandwidth)",
    "mst": "deadwood's mutual-reachability minimum spanning tree: rows in pruned debris, then attachment distance",
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
#: widest space the covariance-based detectors (mahalanobis, pca, gmm) work in: wider tables are
#: projected on their leading principal directions (a randomised SVD of the reference), with
#: the rest kept as one isotropic residual, so nothing costs d^2 or d^3
COV_WIDTH = 100
#: width of the space the Gaussian mixture is fitted in (its leading principal directions)
GMM_WIDTH = 30
KNN20_K = 20
LODA_CUTS = 100
LODA_BINS = 10
INNE_SETS, INNE_SIZE = 100, 8
#: bound on rows x reference rows x columns of the neighbour search (its cost): a big wide table
#: searches a smaller reference (never under NEIGHBOUR_MIN_REFERENCE rows), e.g. 3,000 rows at
#: 50,000 x 100
NEIGHBOUR_BUDGET = 1.5e10
NEIGHBOUR_MIN_REFERENCE = 2000
#: rows of the reference the spanning tree is built on (deadwood is O(m^2 d) on wide data)
MST_ROWS = 2000
MST_M = 5
#: LOF's reachability distances are floored at this fraction of the median positive k-distance
LOF_FLOOR = 1e-3


def _scaled_k(k: int, n: int, m: int) -> int:
    """The neighbour count among m sampled rows that matches k among all n rows."""
    return int(min(max(1, round(k * m / max(n, 1))), m - 1))


def _import_deadwood():  # noqa: ANN202
    """deadwood's estimators without its plotting module: ``deadwood/__init__`` imports
    ``matplotlib.pyplot`` for two plot helpers, which took 2.4 s of an 11 s `metaclust detect`
    on 1,000 rows (a loaded machine). While deadwood is imported, an empty module stands in
    for ``deadwood.plots``; it is removed afterwards, so a later ``import deadwood.plots``
    imports the real one."""
    import sys
    import types

    if "deadwood" in sys.modules:
        return sys.modules["deadwood"]
    stub = types.ModuleType("deadwood.plots")
    stub.__all__ = []
    sys.modules.setdefault("deadwood.plots", stub)
    try:
        import deadwood
    finally:
        if sys.modules.get("deadwood.plots") is stub:
            del sys.modules["deadwood.plots"]
    return deadwood


def _bin_density(x: np.ndarray, density: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The histogram density at each value of x (0 outside the histogram's range).

    The edges are ``np.histogram``'s equal-width ones, so the bin is found by arithmetic and
    corrected against the edges as numpy's own histogram does (a value on an edge goes to the
    bin it starts, the last bin holds its right edge): the same bins as a search of the
    edges, several times faster on 50,000 rows x 100 columns."""
    nb = density.size
    lo, hi = edges[0], edges[-1]
    inside = (x >= lo) & (x <= hi)
    if hi > lo:
        with np.errstate(invalid="ignore"):
            b = ((x - lo) * (nb / (hi - lo))).astype(np.intp)
        np.clip(b, 0, nb - 1, out=b)
        b[x < edges[b]] -= 1
        np.clip(b, 0, nb - 1, out=b)
        b[(x >= edges[b + 1]) & (b != nb - 1)] += 1
    else:
        b = np.zeros(x.shape, dtype=np.intp)
    return np.where(inside, density[b], 0.0)


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
    #: the neighbour search of the rows being scored, while they are (shared with ``_mst``)
    _search: tuple | None = field(default=None, repr=False)

    # --- preprocessing ------------------------------------------------------------------
    def transform(self, X: np.ndarray) -> np.ndarray:
        """The standardised kept columns of X (what every detector sees)."""
        # Dividing by the largest magnitude first keeps values of 1e300 or 1e-300 from
        # overflowing or underflowing on the way.
        Z = (X[:, self.keep_].astype(np.float64, copy=False) if self.keep_.size < X.shape[1]
             else np.array(X, dtype=np.float64))
        Z /= self.prescale_  # in place: Z is a copy already
        Z -= self.mean_
        Z /= self.scale_
        return Z

    def fit(self, X: np.ndarray) -> np.ndarray:
        """Fit on ``X`` (validated float matrix); returns in-sample scores, shape (n, len(names))."""
        return self.fit_transform(X)[0]

    def fit_transform(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``fit``, also returning ``transform(X)`` (computed on the way: the table descriptors
        read it, and standardising 50,000 x 100 twice cost 0.3 s)."""
        n, d = X.shape
        rng = np.random.default_rng(self.seed)
        self._state = {}
        budget = int(max(NEIGHBOUR_MIN_REFERENCE, NEIGHBOUR_BUDGET / max(n * d, 1)))
        m = min(self.max_reference, budget)
        if n > m:
            ref_idx = np.sort(rng.choice(n, m, replace=False))
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
        return self._score(Z, fit=True, self_index=self_index, rng=rng), Z

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
        if wanted & {"knn", "knn_20", "knn_wide", "lof", "kde"}:
            out.update(self._neighbours(Z, fit, self_index))
        if wanted & {"ecod", "copod"}:
            out.update(self._ecdf(Z, fit))
        if "hbos" in wanted:
            out["hbos"] = self._hbos(Z, fit)
        if wanted & {"mahalanobis", "pca"}:
            out.update(self._gaussian(Z, fit, rng))
        if "gmm" in wanted:
            out["gmm"] = self._gmm(Z, fit, rng)
        if "loda" in wanted:
            out["loda"] = self._loda(Z, fit, rng)
        if "inne" in wanted:
            out["inne"] = self._inne(Z, fit, rng)
        if "mst" in wanted:
            out["mst"] = self._mst(Z, fit, rng, self_index)
        self._search = None
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
            return {name: np.zeros(Z.shape[0]) for name in ("knn", "knn_20", "knn_wide", "lof", "kde")}
        k_knn = _scaled_k(KNN_K, self.n_fit_, m)
        k_20 = _scaled_k(KNN20_K, self.n_fit_, m)
        k_lof = _scaled_k(LOF_K, self.n_fit_, m)
        wide = int(np.clip(round(WIDE_SHARE * self.n_fit_), WIDE_MIN, WIDE_MAX))
        k_wide = _scaled_k(wide, self.n_fit_, m)
        k_max = max(k_knn, k_20, k_lof, k_wide)
        dist, idx = kneighbors(Z, R, k_max, self_index=self_index)
        self._search = (dist, idx)  # for the spanning tree's attachment search (``_mst``)
        if fit:
            # The reference's own k-distances (leave-one-out), needed by LOF: the reference
            # rows are rows of the fitted table, so they come from the same search.
            rows = np.flatnonzero(self_index >= 0)
            rows = rows[np.argsort(self_index[rows])]  # row of the table holding reference row i
            rd, ri = dist[rows, :k_lof], idx[rows, :k_lof]
            kdist = rd[:, -1]
            positive = kdist[kdist > 0]
            floor = LOF_FLOOR * (float(np.median(positive)) if positive.size else 1.0)
            reach = np.maximum(np.maximum(kdist[ri], rd), floor)
            # the kernel density's one bandwidth: the median LOF-neighbourhood radius
            bandwidth = float(np.median(kdist)) if np.median(kdist) > 0 else floor / LOF_FLOOR
            self._state["lof"] = (kdist, 1.0 / reach.mean(axis=1), floor, bandwidth)
        kdist, lrd_ref, floor, bandwidth = self._state["lof"]
        knn = dist[:, k_knn - 1]
        d, i = dist[:, :k_lof], idx[:, :k_lof]
        reach = np.maximum(np.maximum(kdist[i], d), floor)
        lrd = 1.0 / reach.mean(axis=1)
        lof = lrd_ref[i].mean(axis=1) / lrd
        # Kernel density over the k_max nearest reference rows (the far ones add ~nothing at this
        # bandwidth), in log-sum-exp form so an isolated row gets a large finite score, not inf.
        e = -0.5 * (dist / bandwidth) ** 2
        top = e.max(axis=1)
        kde = -(top + np.log(np.exp(e - top[:, None]).sum(axis=1)))
        return {"knn": knn, "knn_20": dist[:, k_20 - 1], "knn_wide": dist[:, k_wide - 1], "lof": lof, "kde": kde}

    def _ecdf(self, Z: np.ndarray, fit: bool) -> dict[str, np.ndarray]:
        if fit:
            R = self.R_
            mu = R.mean(axis=0)
            sd = R.std(axis=0)
            skew = np.mean(((R - mu) / np.where(sd > 0, sd, 1.0)) ** 3, axis=0)
            # per column: its distinct reference values and how many reference values lie
            # below each (one search per value then gives both tails, ties included)
            columns = []
            for j in range(R.shape[1]):
                values, counts = np.unique(R[:, j], return_counts=True)
                columns.append((values, np.concatenate([[0], np.cumsum(counts)]), counts))
            self._state["ecdf"] = (columns, np.sign(skew), R.shape[0])
        columns, skew_sign, m = self._state["ecdf"]
        n, d = Z.shape
        # -log((count + 1) / (m + 1)) for every possible count 0..m: a lookup, not a log per cell;
        # never 0 in the denominator, so -log is never inf, in or out of sample.
        tail = np.log(m + 1.0) - np.log(np.arange(m + 1) + 1.0)
        ecod = np.zeros(n)
        copod = np.zeros(n)
        for j, (values, below, counts) in enumerate(columns):
            z = Z[:, j]
            i = np.searchsorted(values, z, side="left")
            lt = below[i]  # reference values < x
            at = np.minimum(i, values.size - 1)
            eq = np.where(values[at] == z, counts[at], 0)
            u_left = tail[lt + eq]  # from the count of reference values <= x
            u_right = tail[m - lt]  # from the count of reference values >= x
            # The tail that the column's skew points to (pyod's "skewness-corrected" tail);
            # ECOD's max(skew tail, left, right) is max(left, right).
            u_skew = u_left if skew_sign[j] < 0 else u_right
            ecod += np.maximum(u_left, u_right)
            copod += np.maximum(u_skew, 0.5 * (u_left + u_right))
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
            out += -np.log(_bin_density(Z[:, j], density, edges) + HBOS_ALPHA)
        return out

    def _principal(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The reference's mean, principal directions (d x q), their variances and the mean
        variance left over, q = min(d, COV_WIDTH). Exact (eigh of the covariance) up to
        COV_WIDTH columns; beyond, a randomised SVD: O(m d q), never d^2."""
        if "principal" in self._state:
            return self._state["principal"]
        R = self.R_
        m, d = R.shape
        mu = R.mean(axis=0)
        if d <= COV_WIDTH:
            C = np.cov(R - mu, rowvar=False).reshape(d, d)
            vals, vecs = np.linalg.eigh(C)
            vals, vecs = vals[::-1].clip(min=0.0), vecs[:, ::-1]
            rest = 0.0
        else:
            from sklearn.utils.extmath import randomized_svd

            q = min(COV_WIDTH, m)
            _, sv, vt = randomized_svd(R - mu, q, n_iter=4, random_state=int(rng.integers(2**31 - 1)))
            vals = sv**2 / max(m - 1, 1)
            vecs = vt.T
            total = float(((R - mu) ** 2).sum() / max(m - 1, 1))
            rest = max(total - float(vals.sum()), 0.0) / (d - vals.size)
        self._state["principal"] = (mu, vecs, vals, rest)
        return self._state["principal"]

    def _gaussian(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        if fit:
            mu, vecs, vals, rest = self._principal(rng)
            top = vals[0] if vals.size and vals[0] > 0 else 1.0
            floored = np.maximum(vals, 1e-6 * top)
            total = float(vals.sum() + rest * (self.R_.shape[1] - vals.size))
            ratio = np.maximum(vals / max(total, 1e-300), 1e-6 * top / max(total, 1e-300))
            # sklearn's sign convention (svd_flip on the components): pyod's score depends on it
            flip = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
            axes = vecs * np.where(flip == 0, 1.0, flip)
            self._state["gauss"] = (mu, vecs, floored, max(rest, 1e-6 * top), axes, ratio)
        mu, vecs, vals, rest, axes, ratio = self._state["gauss"]
        # the axes are the directions up to sign: one projection serves both scores
        sign = np.sign((axes * vecs).sum(axis=0))
        n = Z.shape[0]
        maha = np.empty(n)
        pca = np.empty(n)
        for start in range(0, n, 4096):  # blocks: the temporaries stay small (and in cache)
            C = Z[start:start + 4096] - mu
            P = C @ vecs
            maha2 = np.einsum("ij,ij->i", P / vals, P)
            sq = np.einsum("ij,ij->i", C, C)
            if vecs.shape[1] < Z.shape[1]:
                # the directions beyond the leading ones, as one isotropic residual
                maha2 += np.maximum(sq - np.einsum("ij,ij->i", P, P), 0.0) / rest
            maha[start:start + 4096] = np.sqrt(maha2)
            # pyod's PCA: sum_j ||z - v_j|| / ratio_j, the v_j unit principal axes (as points)
            P *= -2.0 * sign
            P += sq[:, None] + 1.0
            np.maximum(P, 0.0, out=P)
            np.sqrt(P, out=P)
            pca[start:start + 4096] = P @ (1.0 / ratio)
        return {"mahalanobis": maha, "pca": pca}

    def _gmm(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None) -> np.ndarray:
        if fit:
            from sklearn.mixture import GaussianMixture

            R = self.R_
            if R.shape[1] > GMM_WIDTH:  # the leading principal directions: full covariances stay cheap
                mu, vecs, _, _ = self._principal(rng)
                basis = (mu, vecs[:, :GMM_WIDTH])
                R = (R - mu) @ basis[1]
            else:
                basis = None
            self._state["gmm_basis"] = basis
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
        basis = self._state["gmm_basis"]
        return -self._state["gmm"].score_samples(Z if basis is None else (Z - basis[0]) @ basis[1])

    def _loda(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None) -> np.ndarray:
        """LODA (Pevny 2016, as in pyod): histograms of sparse random projections."""
        if fit:
            d = self.R_.shape[1]
            W = rng.normal(size=(LODA_CUTS, d))
            zero = max(0, d - int(np.sqrt(d)))  # each projection keeps about sqrt(d) columns
            for row in W:
                row[rng.choice(d, zero, replace=False)] = 0.0
            proj = self.R_ @ W.T
            tables = []
            for c in range(LODA_CUTS):
                density, edges = np.histogram(proj[:, c], bins=LODA_BINS, density=True)
                tables.append((density, edges))
            self._state["loda"] = (W, tables)
        W, tables = self._state["loda"]
        proj = Z @ W.T
        out = np.zeros(Z.shape[0])
        for c, (density, edges) in enumerate(tables):
            # a small floor (pyod adds 1e-12): outside every bin is far, but finite
            out += -np.log(_bin_density(proj[:, c], density, edges) + 1e-6)
        return out / LODA_CUTS

    def _inne(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None) -> np.ndarray:
        """INNE (Bandaragoda et al. 2018): each of INNE_SETS sets of INNE_SIZE reference rows
        covers space with hyperspheres (radius: a centre's distance to its nearest other
        centre); a row's score in a set is 1 - r(nn of c) / r(c) for the smallest sphere c that
        holds it, 1 when none does; averaged over the sets. Vectorised over all centres at
        once (pyod loops: 9 s on 50,000 x 100, this well under 1 s)."""
        if fit:
            m = self.R_.shape[0]
            size = min(INNE_SIZE, m)
            idx = np.stack([rng.choice(m, size, replace=False) for _ in range(INNE_SETS)])  # (t, s)
            C = self.R_[idx]  # (t, s, d)
            D = np.sqrt(np.maximum(((C[:, :, None, :] - C[:, None, :, :]) ** 2).sum(-1), 0.0))
            D[:, np.arange(size), np.arange(size)] = np.inf
            nn = D.argmin(axis=2)
            radius = D.min(axis=2)  # (t, s)
            radius = np.where(np.isfinite(radius), radius, 0.0)
            ratio = 1.0 - np.take_along_axis(radius, nn, axis=1) / np.where(radius > 0, radius, 1.0)
            ratio = np.where(radius > 0, ratio, 0.0)
            self._state["inne"] = (idx, C.reshape(-1, C.shape[2]), radius, ratio)
        idx, centres, radius, ratio = self._state["inne"]
        t, size = radius.shape
        n = Z.shape[0]
        out = np.empty(n)
        c32 = centres.astype(np.float32)  # single precision: half the time, ample for sphere tests
        sq_c = (c32**2).sum(axis=1)
        for start in range(0, n, 4096):  # bounded memory: 4096 x (t s) distances at a time
            block = Z[start:start + 4096].astype(np.float32)
            d2 = (block**2).sum(axis=1)[:, None] + sq_c[None, :] - 2.0 * block @ c32.T
            dist = np.sqrt(np.maximum(d2, 0.0)).reshape(-1, t, size)
            # a centre lies in its own sphere, as in pyod: then exact duplicates of it score alike
            inside = dist <= radius[None]
            r = np.where(inside, radius[None], np.inf)
            best = r.argmin(axis=2)  # the smallest covering sphere of each set
            covered = np.isfinite(np.take_along_axis(r, best[..., None], axis=2)[..., 0])
            iso = np.where(covered, np.take_along_axis(np.broadcast_to(ratio, r.shape), best[..., None],
                                                       axis=2)[..., 0], 1.0)
            out[start:start + 4096] = iso.mean(axis=1)
        return out

    def _tree_neighbours(self, Z: np.ndarray, T: np.ndarray, tree_idx: np.ndarray, kk: int,
                         own: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The kk nearest tree rows of each row of Z (indices into T), leave-one-out by ``own``.

        The tree rows are reference rows, so the tree rows among a row's nearest reference
        rows (``_neighbours``'s search of the same Z) are, in order, its nearest tree rows: a
        row with at least kk of them needs no search of its own (exact, and on 50,000 x 100
        it saved a second pass over the table). The others are searched against T."""
        from .neighbors import kneighbors

        search = self._search
        if search is None or search[0].shape[0] != Z.shape[0]:
            return kneighbors(Z, T, kk, self_index=own)
        rdist, ridx = search
        pos = np.full(self.R_.shape[0], -1, dtype=np.int64)
        pos[tree_idx] = np.arange(tree_idx.size)
        tpos = pos[ridx]
        member = tpos >= 0
        first = np.argsort(~member, axis=1, kind="stable")[:, :kk]  # the first kk tree rows, in order
        dist = np.take_along_axis(rdist, first, axis=1)
        idx = np.take_along_axis(tpos, first, axis=1)
        short = np.flatnonzero(member.sum(axis=1) < kk)
        if short.size:
            d2, i2 = kneighbors(Z[short], T, kk, self_index=None if own is None else own[short])
            dist[short], idx[short] = d2, i2
        return dist, idx

    def _mst(self, Z: np.ndarray, fit: bool, rng: np.random.Generator | None,
             self_index: np.ndarray | None) -> np.ndarray:
        """deadwood's minimum spanning tree of mutual-reachability distances on at most MST_ROWS
        reference rows: a row is scored 1 + a(x) / (1 + a(x)) when deadwood prunes it as debris
        and a(x) / (1 + a(x)) otherwise, a(x) being its attachment distance (the
        mutual-reachability distance to its nearest tree row, in units of the median tree
        edge). Rows outside the tree take the debris flag of the tree row they attach to, or
        1 when they attach by an edge longer than those deadwood cut."""
        if fit:
            deadwood = _import_deadwood()
            R = self.R_
            take = R.shape[0] if R.shape[0] <= MST_ROWS else MST_ROWS
            tree_idx = np.arange(R.shape[0]) if take == R.shape[0] else np.sort(
                rng.choice(R.shape[0], take, replace=False))
            T = R[tree_idx]
            if take <= MST_M + 1:
                flags = np.zeros(take)
                core = np.zeros(take)
                cut = np.inf
                unit = 1.0
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    dw = deadwood.Deadwood(M=MST_M).fit(T)
                flags = (dw.labels_ < 0).astype(np.float64)
                core = np.asarray(dw._d_core_, dtype=np.float64)
                w = np.sort(np.asarray(dw._tree_d_, dtype=np.float64))
                c = float(np.atleast_1d(dw.contamination_).max())
                cut = float(np.quantile(w, 1.0 - c)) if 0 < c < 1 else np.inf
                med = float(np.median(w))
                unit = med if med > 0 else 1.0
            self._state["mst"] = (T, tree_idx, flags, core, cut, unit)
        T, tree_idx, flags, core, cut, unit = self._state["mst"]
        kk = min(MST_M, T.shape[0] - 1)
        if kk < 1:
            return np.zeros(Z.shape[0])
        own = None
        if self_index is not None:  # leave-one-out for the rows the tree was built on
            pos = np.full(self.R_.shape[0], -1, dtype=np.int64)
            pos[tree_idx] = np.arange(tree_idx.size)
            own = np.where(self_index >= 0, pos[np.maximum(self_index, 0)], -1)
        dist, idx = self._tree_neighbours(Z, T, tree_idx, kk, own)
        core_x = dist[:, -1]
        mreach = np.maximum(np.maximum(dist, core[idx]), core_x[:, None])
        j = mreach.argmin(axis=1)
        attach = mreach[np.arange(Z.shape[0]), j]
        flag = np.where(attach > cut, 1.0, flags[idx[np.arange(Z.shape[0]), j]])
        if own is not None:  # a tree row keeps deadwood's own verdict
            inside = own >= 0
            flag[inside] = flags[own[inside]]
        a = attach / unit
        return flag + a / (1.0 + a)
