"""Built-in meta-feature groups, registered through the ``register_metafeatures`` hook."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..hookspecs import hookimpl
from .base import Context, MetaFeatureGroup


def _general(ctx: Context) -> dict[str, float]:
    n, d = ctx.X.shape
    S = ctx.sample
    discrete = np.mean([np.unique(S[:, j]).size <= max(10, 0.05 * S.shape[0]) for j in range(d)])
    dup = 1.0 - np.unique(S, axis=0).shape[0] / S.shape[0]
    return {"log_n": np.log(n), "log_d": np.log(d), "d_over_n": d / n,
            "discrete_share": float(discrete), "duplicate_share": float(dup)}


GENERAL = MetaFeatureGroup(
    name="general",
    features={
        "log_n": "natural log of the number of rows",
        "log_d": "natural log of the number of columns",
        "d_over_n": "columns per row",
        "discrete_share": "share of columns with few distinct values (on the sample)",
        "duplicate_share": "share of duplicate rows (on the sample)",
    },
    compute=_general,
)


def _statistical(ctx: Context) -> dict[str, float]:
    S = ctx.sample
    Z = (S - S.mean(0)) / np.where(S.std(0) > 0, S.std(0), 1.0)
    skew = np.mean(Z**3, axis=0)
    kurt = np.mean(Z**4, axis=0) - 3.0
    if S.shape[1] > 1:
        corr = np.corrcoef(Z, rowvar=False)
        off = np.abs(corr[~np.eye(corr.shape[0], dtype=bool)])
        off = off[np.isfinite(off)]
    else:
        off = np.zeros(1)
    s = np.linalg.svd(Z, compute_uv=False) ** 2
    share = s / s.sum() if s.sum() > 0 else np.ones_like(s) / s.size
    cum = np.cumsum(share)
    return {"skew_mean": float(np.mean(np.abs(skew))), "kurtosis_mean": float(np.mean(kurt)),
            "abs_corr_mean": float(off.mean()) if off.size else 0.0,
            "pca_first_share": float(share[0]),
            "pca_components_90": float((np.searchsorted(cum, 0.9) + 1) / S.shape[1])}


STATISTICAL = MetaFeatureGroup(
    name="statistical",
    features={
        "skew_mean": "mean absolute skewness of the columns",
        "kurtosis_mean": "mean excess kurtosis of the columns",
        "abs_corr_mean": "mean absolute correlation between columns",
        "pca_first_share": "share of variance on the first principal component",
        "pca_components_90": "components needed for 90% of the variance, as a share of d",
    },
    compute=_statistical,
)


@hookimpl
def register_metafeatures(register: Callable[[Any], None]) -> None:
    for group in (GENERAL, STATISTICAL):
        register(group)
