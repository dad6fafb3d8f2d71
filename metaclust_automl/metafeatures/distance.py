"""Distance-based meta-features (Ferrari & de Castro, 2015, Information Sciences 301).

The 19 features of the paper, on the pairwise distances between the first
``LANDMARK_ROWS`` rows of the standardised sample (so neither n nor the units of the columns change them): five moments
of the distances min-max normalised to [0, 1], their histogram in ten equal bins, and
the shares of their absolute z-scores in [0, 1), [1, 2), [2, 3) and [3, inf).

When all distances are equal (or there are fewer than two rows) the normalised distances
are taken as all 0: moments 0, the first bin and the first z-score range hold everything.
"""
from __future__ import annotations

import numpy as np

from .base import Context, MetaFeatureGroup

BINS = 10


def _degenerate() -> dict[str, float]:
    out = {"mean": 0.0, "variance": 0.0, "std": 0.0, "skewness": 0.0, "kurtosis": 0.0}
    out.update({f"hist_{i}": float(i == 0) for i in range(BINS)})
    out.update(zscore_0_1=1.0, zscore_1_2=0.0, zscore_2_3=0.0, zscore_3_up=0.0)
    return out


def ferrari_de_castro(dist: np.ndarray) -> dict[str, float]:
    """The 19 features of a vector of pairwise distances."""
    if dist.size == 0:
        return _degenerate()
    lo, hi = float(dist.min()), float(dist.max())
    if not hi > lo:
        return _degenerate()
    N = dist.size
    x = (dist - lo) * (1.0 / (hi - lo))
    mean = float(x.sum() / N)
    c = x - mean
    c2 = c * c
    var = float(c2.sum() / N)
    std = float(np.sqrt(var))
    out = {"mean": mean, "variance": var, "std": std}
    if std > 0:
        out["skewness"] = float(np.dot(c2, c) / N / std**3)
        out["kurtosis"] = float(np.dot(c2, c2) / N / var**2 - 3.0)
    else:
        out["skewness"] = out["kurtosis"] = 0.0
    x *= BINS
    counts = np.bincount(np.minimum(x.astype(np.int64), BINS - 1), minlength=BINS)
    out.update({f"hist_{i}": counts[i] / N for i in range(BINS)})
    # |z| in [0,1), [1,2), [2,3), [3,inf): the integer part of |c| / std
    np.abs(c, out=c)
    if std > 0:
        c *= 1.0 / std
    else:
        c[:] = 0.0
    zc = np.bincount(np.minimum(c.astype(np.int64), 3), minlength=4)
    z = c
    out.update(zscore_0_1=zc[0] / z.size, zscore_1_2=zc[1] / z.size, zscore_2_3=zc[2] / z.size,
               zscore_3_up=zc[3] / z.size)
    return out


def _distance(ctx: Context) -> dict[str, float]:
    return ferrari_de_castro(ctx.distances)


_FEATURES = {
    "mean": "mean of the pairwise distances min-max normalised to [0, 1]",
    "variance": "variance of the normalised pairwise distances",
    "std": "standard deviation of the normalised pairwise distances",
    "skewness": "skewness of the pairwise distances",
    "kurtosis": "excess kurtosis of the pairwise distances",
}
_FEATURES.update({f"hist_{i}": f"share of normalised distances in [{i / BINS:.1f}, {(i + 1) / BINS:.1f}"
                  + ("]" if i == BINS - 1 else ")") for i in range(BINS)})
_FEATURES.update({
    "zscore_0_1": "share of distances whose absolute z-score is below 1",
    "zscore_1_2": "share of distances whose absolute z-score is in [1, 2)",
    "zscore_2_3": "share of distances whose absolute z-score is in [2, 3)",
    "zscore_3_up": "share of distances whose absolute z-score is 3 or more",
})

DISTANCE = MetaFeatureGroup(name="distance", features=_FEATURES, compute=_distance)
