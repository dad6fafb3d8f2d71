"""Checks that turn whatever a caller passes into the float matrix every part expects."""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError

MIN_ROWS = 3


def check_matrix(X: Any, *, min_rows: int = MIN_ROWS, name: str = "X") -> np.ndarray:
    """Return ``X`` as a finite 2-D float64 array, or raise a DataError saying why not."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not numeric: {exc}") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 2-D table, got an array with {arr.ndim} dimensions")
    n, d = arr.shape
    if d == 0:
        raise DataError(f"{name} has no columns")
    if n < min_rows:
        raise DataError(f"{name} has {n} rows; at least {min_rows} are needed")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DataError(
            f"{name} has {int(bad.sum())} NaN or infinite values in {rows.size} rows "
            f"(first at row {int(rows[0])}); impute or drop them first"
        )
    return np.ascontiguousarray(arr)
