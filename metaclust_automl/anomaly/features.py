"""The policy's state: per-row features that transfer across tables, and need no labels.

A raw detector score means nothing across tables (an LOF of 1.8 is extreme on one table
and ordinary on the next), so every score enters the state in two scale-free forms:

- its **rank** among the fitted table's scores (0 = most normal, 1 = most anomalous;
  ties share their mid-rank, so duplicate rows get identical states);
- its **magnitude**: the robust z-score (median and MAD of the fitted table's scores),
  squashed by asinh, which keeps the size of a gap that ranks hide.

Every row of a table also carries the table's descriptors: a few
cheap meta-features (size, dimension, duplicates, discreteness, skew, correlation, PCA
spectrum) and, per detector, how well it agrees with the others and how heavy the top
tail of its scores is. These let the policy learn *which* detectors to trust on which kind
of table, which is the point of meta-learning here.

All table descriptors are computed here on a bounded sample (defined and versioned with
the policy, so a change elsewhere in the package cannot silently shift its inputs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: rows used for the table descriptors (bounded cost on big tables)
SAMPLE_ROWS = 2000
#: columns the correlation and spectrum descriptors are computed on (a random subset of wider
#: tables): their cost is then bounded, never quadratic in the width
SAMPLE_COLUMNS = 200
#: share of rows that count as a detector's "top" when measuring its tail
TOP_SHARE = 0.05

TABLE_FEATURES: tuple[str, ...] = (
    "log_n", "log_d", "constant_share", "duplicate_share", "discrete_share",
    "skew_mean", "kurtosis_log", "abs_corr_mean", "pca_first_share", "pca_components_90",
)


def feature_names(detectors: tuple[str, ...]) -> list[str]:
    """Names of the state's columns, in order."""
    names = [f"rank.{d}" for d in detectors] + [f"mag.{d}" for d in detectors]
    names += [f"table.{t}" for t in TABLE_FEATURES]
    names += [f"agree.{d}" for d in detectors] + [f"tail.{d}" for d in detectors]
    return names


def mid_ranks(sorted_ref: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of reference values below each value, counting ties as half: in [0, 1]."""
    if values.size > 256:  # numpy's search is much faster on sorted keys (cache, and it narrows)
        order = np.argsort(values, kind="stable")
        keys = values[order]
        out = np.empty(values.size)
        out[order] = (np.searchsorted(sorted_ref, keys, side="left")
                      + np.searchsorted(sorted_ref, keys, side="right")) / (2.0 * sorted_ref.size)
        return out
    lo = np.searchsorted(sorted_ref, values, side="left")
    hi = np.searchsorted(sorted_ref, values, side="right")
    return (lo + hi) / (2.0 * sorted_ref.size)


def robust_center_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and a positive spread: 1.4826 MAD, else IQR / 1.349, else std, else 1."""
    med = float(np.median(values))
    for spread in (1.4826 * np.median(np.abs(values - med)),
                   float(np.subtract(*np.percentile(values, [75, 25]))) / 1.349,
                   float(np.std(values))):
        if np.isfinite(spread) and spread > 1e-12 * max(1.0, abs(med)):
            return med, float(spread)
    return med, 1.0


@dataclass
class ScoreNormaliser:
    """What is remembered of the fitted table's scores to place new scores on its scale."""

    sorted_scores: list[np.ndarray]
    centers: np.ndarray
    scales: np.ndarray

    @classmethod
    def fit(cls, S: np.ndarray) -> ScoreNormaliser:
        stats = [robust_center_scale(S[:, j]) for j in range(S.shape[1])]
        return cls(sorted_scores=[np.sort(S[:, j]) for j in range(S.shape[1])],
                   centers=np.array([c for c, _ in stats]), scales=np.array([s for _, s in stats]))

    def transform(self, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ranks, magnitudes), each of shape S.shape."""
        ranks = np.column_stack([mid_ranks(ref, S[:, j]) for j, ref in enumerate(self.sorted_scores)])
        z = (S - self.centers) / self.scales
        return ranks, np.arcsinh(z) / 3.0


def table_descriptors(X: np.ndarray, n_constant: int, seed: int = 0) -> np.ndarray:
    """Cheap descriptors of the table (standardised, constant columns dropped), on a sample."""
    with np.errstate(all="ignore"):  # a column constant on the sample gives 0/0: caught below
        return _table_descriptors(X, n_constant, seed)


def _table_descriptors(X: np.ndarray, n_constant: int, seed: int) -> np.ndarray:
    n, d = X.shape
    rng = np.random.default_rng(seed)
    S = X[np.sort(rng.choice(n, SAMPLE_ROWS, replace=False))] if n > SAMPLE_ROWS else X
    m = S.shape[0]
    dup = 1.0 - np.unique(S, axis=0).shape[0] / m
    sd = S.std(axis=0)
    Z = (S - S.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    skew = float(np.mean(np.abs(np.mean(Z**3, axis=0))))
    kurt = float(np.log1p(max(np.mean(np.mean(Z**4, axis=0)), 0.0)))
    if d > SAMPLE_COLUMNS:  # the rest on a random subset of the columns: bounded cost
        Z = Z[:, np.sort(rng.choice(d, SAMPLE_COLUMNS, replace=False))]
    w = Z.shape[1]
    sorted_cols = np.sort(Z, axis=0)
    levels = 1 + (np.diff(sorted_cols, axis=0) > 0).sum(axis=0)  # distinct values per column
    discrete = float(np.mean(levels <= max(10, 0.02 * m)))
    if w > 1:
        corr = np.corrcoef(Z, rowvar=False)
        off = np.abs(corr[~np.eye(w, dtype=bool)])
        off = off[np.isfinite(off)]
        abs_corr = float(off.mean()) if off.size else 0.0
    else:
        abs_corr = 0.0
    s = np.linalg.svd(Z, compute_uv=False) ** 2
    share = s / s.sum() if s.sum() > 0 else np.full(s.size, 1.0 / max(s.size, 1))
    comps = float((np.searchsorted(np.cumsum(share), 0.9) + 1) / w)
    values = [np.log(n), np.log(d), n_constant / (n_constant + d), dup, discrete,
              np.log1p(skew), kurt, abs_corr, float(share[0]), min(comps, 1.0)]
    return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def detector_descriptors(ranks: np.ndarray, mags: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per detector: Spearman agreement with the mean of the others, and top-tail magnitude."""
    n, k = ranks.shape
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, SAMPLE_ROWS, replace=False)) if n > SAMPLE_ROWS else np.arange(n)
    R, M = ranks[idx], mags[idx]
    agree = np.zeros(k)
    total = R.sum(axis=1)
    for j in range(k):
        others = (total - R[:, j]) / max(k - 1, 1)
        a, b = R[:, j] - R[:, j].mean(), others - others.mean()
        den = np.sqrt((a @ a) * (b @ b))
        agree[j] = (a @ b) / den if den > 0 else 0.0
    top = max(1, int(round(TOP_SHARE * R.shape[0])))
    tail = np.array([np.sort(M[:, j])[-top:].mean() for j in range(k)])
    return np.concatenate([agree, tail])


def build_state(ranks: np.ndarray, mags: np.ndarray, table: np.ndarray, detectors_desc: np.ndarray
                ) -> np.ndarray:
    """Stack the per-row and per-table parts into the state matrix (float32, one row per row)."""
    n = ranks.shape[0]
    shared = np.broadcast_to(np.concatenate([table, detectors_desc]), (n, table.size + detectors_desc.size))
    return np.ascontiguousarray(np.hstack([ranks, mags, shared]), dtype=np.float32)
