"""Statistical meta-features: shape of the marginals, correlation structure, spectrum.

Everything but ``scale_spread`` and ``raw_pca_first_share`` is invariant to the units of
the columns (computed on standardised columns); those two say how much the raw scales
differ, which decides whether a clustering should rescale the table first.
"""
from __future__ import annotations

import numpy as np

from .base import Context, MetaFeatureGroup

#: correlations are summarised over at most this many (randomly chosen) varying columns
CORR_MAX_COLUMNS = 256
#: eigenvalues below this (on the correlation scale) count as this in ``corr_log_det``
EIG_FLOOR = 1e-6
#: spectra use at most this many values (rows x columns) of the stats sample, so that a
#: wide table costs O(d) here, not O(d^3)
SPECTRUM_MAX_VALUES = 300_000


def spectrum(A: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``A.T @ A / m`` (descending, clipped at 0), through the smaller Gram
    matrix, on the first ``SPECTRUM_MAX_VALUES / d`` rows (at least 50); an m x d matrix
    has min(m, d) of them."""
    m, d = A.shape
    if m == 0 or d == 0:
        return np.zeros(0)
    m = min(m, max(50, SPECTRUM_MAX_VALUES // d))
    A = A[:m]
    G = A.T @ A if m >= d else A @ A.T
    ev = np.linalg.eigvalsh(G / m)[::-1]
    return np.clip(ev, 0.0, None)


def twonn_dimension(knn_dist: np.ndarray, trim: float = 0.1) -> float:
    """Intrinsic dimension by TwoNN (Facco et al. 2017): maximum likelihood on the ratio of
    second to first neighbour distances, leaving out the largest ``trim`` share of ratios.
    NaN when fewer than three rows have a positive first-neighbour distance."""
    if knn_dist.shape[1] < 2:
        return float("nan")
    r1, r2 = knn_dist[:, 0], knn_dist[:, 1]
    ok = r1 > 0
    if ok.sum() < 3:
        return float("nan")
    mu = np.sort(r2[ok] / r1[ok])
    mu = mu[: max(3, int(np.ceil((1.0 - trim) * mu.size)))]
    total = np.log(mu).sum()
    return float(mu.size / total) if total > 0 else float("nan")


def _statistical(ctx: Context) -> dict[str, float]:
    st = ctx.stats
    d = ctx.d
    v = st.varying
    out: dict[str, float] = {}
    if v.any():
        skew, kurt = np.abs(st.skew[v]), st.kurt[v]
        bc = (st.skew[v] ** 2 + 1.0) / kurt
        logstd = np.log10(st.std[v])
        out.update(skew_mean=skew.mean(), skew_max=skew.max(), kurtosis_mean=np.mean(kurt - 3.0),
                   log_kurtosis_max=np.log(kurt.max()), bimodality_max=bc.max(),
                   bimodal_share=np.count_nonzero(bc > 5.0 / 9.0) / d,
                   scale_spread=logstd.std() if logstd.size > 1 else 0.0)
        S = np.ascontiguousarray(ctx.sample[:, v].T)  # quantiles along rows: fast
        q25, q75 = np.percentile(S, [25, 75], axis=1)
        out["iqr_ratio_mean"] = float(np.mean((q75 - q25) / (1.349 * st.std[v])))
    else:
        out.update(bimodal_share=0.0, scale_spread=0.0)

    Zs = ctx.standardized_stats
    Zv = Zs[:, v]
    if Zv.shape[1] >= 2:
        cols = np.arange(Zv.shape[1])
        if cols.size > CORR_MAX_COLUMNS:
            cols = np.sort(np.random.default_rng([ctx.seed, 0x636F7272]).choice(
                cols.size, CORR_MAX_COLUMNS, replace=False))
        R = (Zv[:, cols].T @ Zv[:, cols]) / Zv.shape[0]
        off = np.abs(R[~np.eye(cols.size, dtype=bool)])
        out.update(abs_corr_mean=off.mean(), abs_corr_max=min(off.max(), 1.0))
        ev = spectrum(Zv)
        ev = np.concatenate([ev, np.zeros(Zv.shape[1] - ev.size)])
        out["corr_log_det"] = float(np.mean(np.log(np.maximum(ev, EIG_FLOOR))))
    else:
        out.update(abs_corr_mean=0.0, abs_corr_max=0.0, corr_log_det=0.0)

    ev = spectrum(Zs)
    total = ev.sum()
    if total > 0:
        share = ev / total
        cum = np.cumsum(share)
        out["pca_first_share"] = share[0]
        out["pca_components_90"] = (int(np.searchsorted(cum, 0.9 - 1e-12)) + 1) / d
        p = share[share > 0]
        out["pca_entropy"] = float(-(p * np.log(p)).sum() / np.log(d)) if d > 1 else 0.0
    else:
        out.update(pca_first_share=1.0, pca_components_90=1.0 / d, pca_entropy=0.0)

    raw = ctx.stats_sample - st.mean
    top = np.abs(raw).max() if raw.size else 0.0
    ev = spectrum(raw / top) if top > 0 else np.zeros(0)
    out["raw_pca_first_share"] = ev[0] / ev.sum() if ev.size and ev.sum() > 0 else 1.0

    dim = twonn_dimension(ctx.knn[0])
    out["intrinsic_dim_ratio"] = min(dim / d, 2.0) if np.isfinite(dim) else 0.0
    return out


STATISTICAL = MetaFeatureGroup(
    name="statistical",
    features={
        "skew_mean": "mean absolute skewness of the non-constant columns (0 if none)",
        "skew_max": "largest absolute skewness of a column (0 if none)",
        "kurtosis_mean": "mean excess kurtosis of the non-constant columns (0 if none)",
        "log_kurtosis_max": "log of the largest kurtosis of a column (log 3 for normal columns; 0 if none)",
        "bimodality_max": "largest bimodality coefficient (skew^2 + 1) / kurtosis of a column "
                          "(1/3 normal, 5/9 uniform, 1 two equal spikes; 0 if none)",
        "bimodal_share": "share of columns whose bimodality coefficient exceeds 5/9",
        "iqr_ratio_mean": "mean interquartile range (on the sample) / (1.349 standard deviations): "
                          "1 for normal columns, below 1 for heavy tails (1 if none)",
        "scale_spread": "standard deviation of log10 column standard deviations: how much raw "
                        "scales differ (unit-dependent on purpose; 0 if fewer than two columns vary)",
        "abs_corr_mean": "mean absolute correlation between columns (0 for one column)",
        "abs_corr_max": "largest absolute correlation between two columns (0 for one column)",
        "corr_log_det": "mean log eigenvalue of the correlation matrix (0 uncorrelated, "
                        "down to log 1e-6 for redundant columns)",
        "pca_first_share": "share of the standardised variance on the first principal component",
        "pca_components_90": "principal components needed for 90% of the standardised variance, "
                             "as a share of d",
        "pca_entropy": "entropy of the standardised PCA spectrum / log d (1 = isotropic, 0 for one column)",
        "raw_pca_first_share": "share of the raw (unscaled) variance on the first principal "
                               "component (unit-dependent on purpose)",
        "intrinsic_dim_ratio": "TwoNN intrinsic dimension of the sample / d, capped at 2 "
                               "(0 when undefined: fewer than three distinct neighbours)",
    },
    compute=_statistical,
    fallbacks={"iqr_ratio_mean": 1.0, "raw_pca_first_share": 1.0},
)
