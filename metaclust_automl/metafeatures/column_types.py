"""Column-type meta-features: how much of the table is categorical, and how fine its categories.

They tell the selector apart a customer table (plan, device, country one-hot encoded) from
a numeric one; on a numeric table every feature is 0. Read from the encoded matrix's layout
(``encoding.py``), so they cost nothing.
"""
from __future__ import annotations

import numpy as np

from ..encoding import layout_of
from .base import Context, MetaFeatureGroup


def _column_types(ctx: Context) -> dict[str, float]:
    lay = layout_of(ctx.X)
    if lay is None:
        return {"categorical_share": 0.0, "onehot_share": 0.0, "categorical_levels_mean": 0.0,
                "categorical_levels_log_max": 0.0}
    levels = np.array([b - a for a, b in lay.blocks], dtype=np.float64)
    return {
        "categorical_share": len(lay.blocks) / (lay.n_numeric + len(lay.blocks)),
        "onehot_share": float(levels.sum()) / lay.width,
        "categorical_levels_mean": float(levels.mean()),
        "categorical_levels_log_max": float(np.log(levels.max())),
    }


COLUMN_TYPES = MetaFeatureGroup(
    name="column_types",
    features={
        "categorical_share": "share of the table's columns that are categorical (0 for a numeric table)",
        "onehot_share": "share of the encoded columns that are one-hot columns of categories",
        "categorical_levels_mean": "mean number of levels of the categorical columns (0 if none)",
        "categorical_levels_log_max": "natural log of the most levels of one categorical column (0 if none)",
    },
    compute=_column_types,
)
