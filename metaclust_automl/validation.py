"""Checks that turn whatever a caller passes into the float matrix every part expects."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .errors import DataError

MIN_ROWS = 3
#: rows checked for NaN/inf at a time, so that the check needs no full-size mask
_CHECK_ROWS = 65_536


def _nonfinite_summary(arr: np.ndarray) -> tuple[int, int, int]:
    """(number of non-finite values, rows holding one, first such row), block by block."""
    count = rows = 0
    first = -1
    for start in range(0, arr.shape[0], _CHECK_ROWS):
        block = arr[start:start + _CHECK_ROWS]
        finite = np.isfinite(block)
        if finite.all():
            continue
        bad_rows = ~finite.all(axis=1)
        count += int(finite.size - np.count_nonzero(finite))
        rows += int(np.count_nonzero(bad_rows))
        if first < 0:
            first = start + int(np.flatnonzero(bad_rows)[0])
    return count, rows, first


def check_matrix(X: Any, *, min_rows: int = MIN_ROWS, name: str = "X") -> np.ndarray:
    """Return ``X`` as a finite 2-D float64 array, or raise a DataError saying why not.

    A C-contiguous float64 array comes back as is (no copy), so checking a big table
    costs a pass over it and a few megabytes, not a second table."""
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise DataError(f"{name} is a sparse matrix; pass a dense array ({name}.toarray())")
    if np.iscomplexobj(X):
        raise DataError(f"{name} holds complex numbers; pass real features (e.g. real and "
                        "imaginary parts as separate columns)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError, np.exceptions.ComplexWarning) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{name} is not numeric: {first}") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 2-D table, got an array with {arr.ndim} dimensions")
    n, d = arr.shape
    if d == 0:
        raise DataError(f"{name} has no columns")
    if n < min_rows:
        raise DataError(f"{name} has {n} row{'' if n == 1 else 's'}; at least {min_rows} are needed")
    count, rows, first = _nonfinite_summary(arr)
    if count:
        raise DataError(
            f"{name} has {count} NaN or infinite values in {rows} rows "
            f"(first at row {first}); impute or drop them first"
        )
    _check_small(arr, name)
    return np.ascontiguousarray(arr)


#: below this largest |value| squared distances underflow (1e-155 squared is below the
#: smallest normal double): every row looks as close to every other, and clear groups merge
MIN_MAGNITUDE = 1e-150


def _check_small(arr: np.ndarray, name: str) -> None:
    """The small-magnitude partner of the backends' overflow guard (``MAX_MAGNITUDE``)."""
    if not arr.size:
        return
    top = max(float(arr.max()), -float(arr.min()))
    if 0.0 < top < MIN_MAGNITUDE:
        raise DataError(f"{name}: every value is smaller than {MIN_MAGNITUDE:g} in magnitude (largest "
                        f"{top:.3g}), so squared distances underflow to zero and groups cannot be told "
                        "apart; rescale the table (e.g. multiply it by 1e300)")
