"""General meta-features: size, shape and the kind of values in the table."""
from __future__ import annotations

import numpy as np

from .base import Context, MetaFeatureGroup


def distinct_counts(S: np.ndarray) -> np.ndarray:
    """Number of distinct values in each column of ``S``."""
    if S.shape[0] == 0:
        return np.zeros(S.shape[1], dtype=np.int64)
    Ss = np.sort(S, axis=0)
    return 1 + np.count_nonzero(Ss[1:] != Ss[:-1], axis=0)


def _general(ctx: Context) -> dict[str, float]:
    n, d = ctx.n, ctx.d
    S = ctx.sample
    s = S.shape[0]
    distinct = distinct_counts(S)
    integer = np.all(S == np.round(S), axis=0)
    discrete = (distinct <= min(20.0, s / 2.0)) | (integer & (distinct <= max(2.0, 0.05 * s)))
    return {
        "log_n": np.log(n), "log_d": np.log(d), "d_over_n": d / n,
        "discrete_share": float(np.mean(discrete)),
        "binary_share": float(np.mean(distinct == 2)),
        "distinct_ratio_mean": float(np.mean(distinct / s)),
        "duplicate_share": ctx.duplicate_share,
    }


GENERAL = MetaFeatureGroup(
    name="general",
    features={
        "log_n": "natural log of the number of rows",
        "log_d": "natural log of the number of columns",
        "d_over_n": "columns per row",
        "discrete_share": "share of columns that look discrete on the sample (at most min(20, s/2) "
                          "distinct values, or integers with at most 5% distinct values)",
        "binary_share": "share of columns with exactly two distinct values on the sample",
        "distinct_ratio_mean": "mean over columns of distinct values per sampled row (1 = all distinct)",
        "duplicate_share": "share of rows repeating an earlier row (exact when duplicates occur among "
                           "the sampled hashes, else 0)",
    },
    compute=_general,
)
