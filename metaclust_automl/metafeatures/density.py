"""Density meta-features: nearest-neighbour distances, clustering tendency, outliers.

All are computed on the standardised pairwise sample and are ratios or logs of
distances, so they do not depend on the units of the columns. Distances below
``FLOOR_SHARE`` of the median pairwise distance (duplicates, mostly) count as that
much, so that a log or a ratio stays finite.
"""
from __future__ import annotations

import numpy as np

from .base import Context, MetaFeatureGroup

#: the neighbour whose distance describes local density
K_DENSITY = 5
#: neighbours of the local outlier factor
K_LOF = 10
#: LOF above this marks a likely outlier (Breunig et al. 2000 use 1.5 as a common cut)
LOF_OUTLIER = 1.5
#: a standardised value further than this from its column mean marks an extreme row
EXTREME_Z = 4.0
FLOOR_SHARE = 0.01
HOPKINS_MAX = 200


def _skewness(x: np.ndarray) -> float:
    c = x - x.mean()
    sd = np.sqrt(np.mean(c * c))
    return float(np.mean(c**3) / sd**3) if sd > 0 else 0.0


def hopkins(Z: np.ndarray, nn1: np.ndarray, seed: int) -> float:
    """Hopkins statistic: sum(u) / (sum(u) + sum(w)), where u are the distances from uniform
    points in the bounding box to their nearest row and w those from sampled rows to their
    nearest other row. About 0.5 for uniform data, towards 1 for clustered data."""
    s = Z.shape[0]
    m = int(max(1, min(HOPKINS_MAX, s // 10)))
    rng = np.random.default_rng([seed, 0x686F706B])
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    U = lo + rng.random((m, Z.shape[1])) * (hi - lo)
    sq = (U * U).sum(1)[:, None] + (Z * Z).sum(1)[None, :] - 2.0 * U @ Z.T
    u = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
    w = nn1[rng.choice(s, m, replace=False)]
    total = u.sum() + w.sum()
    return float(u.sum() / total) if total > 0 else 0.5


def local_outlier_factor(dist: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """LOF of every row from its k nearest neighbours (distances already floored > 0)."""
    kdist = dist[:, -1]
    reach = np.maximum(dist, kdist[idx])
    lrd = 1.0 / reach.mean(axis=1)
    return lrd[idx].mean(axis=1) / lrd


def _density(ctx: Context) -> dict[str, float]:
    out: dict[str, float] = {}
    Zs = ctx.standardized_stats[:, ctx.stats.varying]
    out["extreme_share"] = float(np.mean(np.any(np.abs(Zs) > EXTREME_Z, axis=1))) if Zs.size else 0.0
    dist, idx = ctx.knn
    pair = ctx.distances
    if dist.shape[1] == 0 or pair.size == 0:
        return out
    med = ctx.median_distance
    if not med > 0:
        return out  # (almost) all rows identical: every density feature takes its fallback
    floor = FLOOR_SHARE * med
    dist = np.maximum(dist, floor)
    dk = dist[:, min(K_DENSITY, dist.shape[1]) - 1]
    out["knn_cv"] = float(dk.std() / dk.mean())
    out["knn_relative"] = float(np.median(dk) / med)
    logd = np.log(dk)
    out["density_spread"] = float(logd.std())
    out["knn_skew"] = _skewness(logd)
    out["hopkins"] = hopkins(ctx.Z, dist[:, 0], ctx.seed)
    k = min(K_LOF, dist.shape[1])
    lof = local_outlier_factor(dist[:, :k], idx[:, :k])
    out["lof_outlier_share"] = float(np.mean(lof > LOF_OUTLIER))
    out["lof_p95"] = float(min(np.percentile(lof, 95), 10.0))
    return out


DENSITY = MetaFeatureGroup(
    name="density",
    features={
        "knn_cv": f"coefficient of variation of the distance to the {K_DENSITY}th nearest neighbour (0 if undefined)",
        "knn_relative": f"median {K_DENSITY}-NN distance / median pairwise distance: small when rows "
                        "sit in tight groups (1 if undefined)",
        "density_spread": f"standard deviation of the log {K_DENSITY}-NN distance: spread of local "
                          "densities (0 if undefined)",
        "knn_skew": f"skewness of the log {K_DENSITY}-NN distance: positive when a few rows lie in "
                    "sparse regions (0 if undefined)",
        "hopkins": "Hopkins statistic: 0.5 for uniform data, towards 1 for clustered data "
                   "(0.5 if undefined)",
        "lof_outlier_share": f"share of sampled rows whose local outlier factor ({K_LOF} neighbours) "
                             f"exceeds {LOF_OUTLIER} (0 if undefined)",
        "lof_p95": "95th percentile of the local outlier factor, capped at 10 (1 if undefined)",
        "extreme_share": f"share of rows with a value more than {EXTREME_Z:g} standard deviations "
                         "from its column mean (stats sample)",
    },
    compute=_density,
    fallbacks={"knn_relative": 1.0, "hopkins": 0.5, "lof_p95": 1.0},
)
