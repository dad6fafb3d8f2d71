"""Mixed tables: which columns are categorical, and the matrix every backend can read.

A numeric table never comes here: it takes the loader's float path unchanged. A table
with text, boolean or pandas categorical columns is split into a *schema* (the numeric
columns, the categorical columns with their levels) and encoded as one float matrix:

- numeric columns standardised (mean 0, standard deviation 1, from the fitted table);
- each categorical column one-hot encoded with weight ``ONE_HOT_WEIGHT``: a mismatch adds 2
  to a squared Euclidean distance, what a standardised numeric column adds on average, so
  that neither kind drowns the other in geometric methods (k-means, GMM, BIRCH, spectral).

The matrix comes back as a :class:`MixedMatrix`: a float64 array that carries its
:class:`Layout`, so that backends that can use more than Euclidean geometry find it
(:func:`layout_of`): agglomerative and HDBSCAN cluster a Gower distance, k-prototypes
reads the category codes back. Every other part sees a plain float matrix.

Missing categorical values are a level of their own; an unseen category in new rows
(``predict``) is coded as no known level (an all-zero block: equally far from every level).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    import pandas as pd

#: a text column with at most this many levels is categorical by default ...
MAX_LEVELS = 100
#: ... provided it has no more distinct values than this share of its rows
MAX_LEVEL_SHARE = 0.5
#: a column whose distinct values reach this share of its rows is an identifier
ID_SHARE = 0.9
#: one-hot weight: a mismatch adds 2 to a squared distance, like a standardised column on average
ONE_HOT_WEIGHT = 1.0
#: the level given to missing categorical values
MISSING_LEVEL = "<missing>"


@dataclass(frozen=True)
class Layout:
    """Where each kind of feature sits in an encoded matrix: the first ``n_numeric``
    columns are numeric; ``blocks`` are the (start, stop) column ranges of the one-hot
    encoded categorical columns, in order."""

    n_numeric: int
    blocks: tuple[tuple[int, int], ...]

    @property
    def width(self) -> int:
        return self.blocks[-1][1] if self.blocks else self.n_numeric

    def codes(self, X: np.ndarray) -> np.ndarray:
        """Category codes (n x number of categorical columns); -1 where no level is set."""
        out = np.empty((X.shape[0], len(self.blocks)), dtype=np.int64)
        for j, (a, b) in enumerate(self.blocks):
            block = np.asarray(X[:, a:b])
            out[:, j] = np.where(block.max(axis=1) > 0, np.argmax(block, axis=1), -1)
        return out


class MixedMatrix(np.ndarray):
    """A float64 matrix that carries the :class:`Layout` of its columns (row selections
    keep it; :func:`layout_of` ignores it once the columns no longer match)."""

    layout: Layout | None

    def __new__(cls, X: np.ndarray, layout: Layout) -> MixedMatrix:
        obj = np.ascontiguousarray(X, dtype=np.float64).view(cls)
        obj.layout = layout
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.layout = getattr(obj, "layout", None)

    def __reduce__(self):  # noqa: ANN204 - a worker process gets a plain array
        return np.asarray(self).__reduce__()


def layout_of(X: Any) -> Layout | None:
    """The layout of an encoded mixed matrix, None for anything else (a numeric table,
    or a matrix whose columns no longer match, e.g. after a PCA)."""
    lay = getattr(X, "layout", None)
    if isinstance(lay, Layout) and getattr(X, "ndim", 0) == 2 and X.shape[1] == lay.width and lay.blocks:
        return lay
    return None


def keep_layout(X: np.ndarray, like: Any) -> np.ndarray:
    """``X`` carrying ``like``'s layout (when ``like`` has one and the widths match)."""
    lay = layout_of(like)
    if lay is None or X.ndim != 2 or X.shape[1] != lay.width or isinstance(X, MixedMatrix):
        return X
    return MixedMatrix(X, lay)


def with_numeric(X: np.ndarray, layout: Layout, num: np.ndarray | None) -> MixedMatrix:
    """A copy of the mixed matrix ``X`` whose numeric columns are ``num`` (which may have
    another width, e.g. after a PCA); the one-hot columns are kept as they are."""
    onehot = np.asarray(X[:, layout.n_numeric:])
    num = np.asarray(X[:, :layout.n_numeric]) if num is None else num
    shift = num.shape[1] - layout.n_numeric
    blocks = tuple((a + shift, b + shift) for a, b in layout.blocks)
    return MixedMatrix(np.hstack([num, onehot]), Layout(num.shape[1], blocks))


@dataclass
class Schema:
    """The columns a model was fitted on, and how each is encoded (plain JSON values)."""

    numeric: list[str]
    categorical: list[str]
    levels: dict[str, list[str]]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    @property
    def layout(self) -> Layout:
        blocks, start = [], len(self.numeric)
        for name in self.categorical:
            width = len(self.levels[name])
            blocks.append((start, start + width))
            start += width
        return Layout(len(self.numeric), tuple(blocks))

    @property
    def feature_names(self) -> list[str]:
        """Names of the encoded columns (``colour=red`` for a one-hot column)."""
        return list(self.numeric) + [f"{c}={v}" for c in self.categorical for v in self.levels[c]]

    def to_json(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical),
                "levels": {k: list(v) for k, v in self.levels.items()},
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        try:
            schema = cls(numeric=[str(c) for c in data["numeric"]],
                         categorical=[str(c) for c in data["categorical"]],
                         levels={str(k): [str(v) for v in vs] for k, vs in data["levels"].items()},
                         mean=[float(v) for v in data["mean"]], std=[float(v) for v in data["std"]])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"the model's column schema is malformed: {exc}") from None
        if (set(schema.levels) != set(schema.categorical) or len(schema.mean) != len(schema.numeric)
                or len(schema.std) != len(schema.numeric)):
            raise DataError("the model's column schema is malformed: its parts do not agree")
        return schema

    def encode(self, num: np.ndarray, frame: pd.DataFrame | None) -> MixedMatrix | np.ndarray:
        """The encoded matrix of rows whose numeric columns are ``num`` (float, in schema
        order) and whose categorical columns are in ``frame``; unseen levels: all-zero."""
        import pandas as pd  # lazy: pandas costs a second to import
        n = num.shape[0] if num.ndim == 2 else len(frame)
        mean = np.asarray(self.mean, dtype=np.float64)
        std = np.asarray(self.std, dtype=np.float64)
        parts = [(num - mean) / std] if self.numeric else []
        for name in self.categorical:
            levels = self.levels[name]
            values = category_strings(frame[name])
            index = pd.Index(levels).get_indexer(values)
            block = np.zeros((n, len(levels)))
            seen = index >= 0
            block[np.flatnonzero(seen), index[seen]] = ONE_HOT_WEIGHT
            parts.append(block)
        X = np.hstack(parts) if parts else np.empty((n, 0))
        return MixedMatrix(X, self.layout) if self.categorical else X


def category_strings(s: pd.Series) -> np.ndarray:
    """A column's values as the strings its levels are named by (missing: ``<missing>``)."""
    import pandas as pd  # lazy: pandas costs a second to import
    values = s.astype(object)
    out = np.where(pd.isna(values).to_numpy(), MISSING_LEVEL,
                   values.map(lambda v: _level_name(v)).to_numpy())
    return out.astype(object)


def _level_name(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_text(s: pd.Series) -> bool:
    import pandas as pd  # lazy: pandas costs a second to import
    dtype = s.dtype
    return dtype == object or pd.api.types.is_string_dtype(dtype)


def column_kind(s: pd.Series, numeric_values: np.ndarray | None) -> str:
    """``"numeric"``, ``"categorical"`` or ``"other"`` (dates, intervals: still an error),
    by dtype and content: booleans and pandas categoricals are categorical; text that
    does not parse as numbers is categorical when it has few distinct values."""
    import pandas as pd  # lazy: pandas costs a second to import
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if numeric_values is not None:
        return "numeric"
    if _is_text(s):
        return "categorical"
    return "other"


def _mostly_numbers(s: pd.Series) -> bool:
    """Whether most present values of a text column parse as numbers once commas are taken
    out (thousands separators, decimal commas): a misread numeric column, not categories."""
    import pandas as pd  # lazy: pandas costs a second to import
    present = s.dropna().astype(str).str.replace(",", "", regex=False).str.strip()
    if not len(present):
        return False
    return bool(pd.to_numeric(present, errors="coerce").notna().mean() >= 0.5)


def too_many_levels(n_levels: int, n_rows: int) -> bool:
    """Whether a text column has too many distinct values to be taken as categorical
    without being asked (``--categorical`` still forces it)."""
    return n_levels > MAX_LEVELS or n_levels > max(2, MAX_LEVEL_SHARE * n_rows)


def fit_schema(num: np.ndarray, numeric: Sequence[str], frame: pd.DataFrame,
               categorical: Sequence[str]) -> Schema:
    """The schema of a table: numeric statistics and the sorted levels of each categorical
    column (missing as a level of its own)."""
    mean = num.mean(axis=0) if len(numeric) else np.empty(0)
    std = num.std(axis=0) if len(numeric) else np.empty(0)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    levels = {}
    for name in categorical:
        values = category_strings(frame[name])
        levels[name] = sorted(set(values.tolist()), key=lambda v: (v == MISSING_LEVEL, v))
    return Schema(numeric=list(numeric), categorical=list(categorical), levels=levels,
                  mean=mean.tolist(), std=std.tolist())


def gower_distances(X: np.ndarray, layout: Layout, Y: np.ndarray | None = None) -> np.ndarray:
    """Gower distances between the rows of ``X`` (and ``Y``): the mean over the original
    columns of |difference| / range for numeric ones and mismatch (0/1) for categorical
    ones. Computed in float32, one column at a time (memory: one n x m matrix)."""
    Y = X if Y is None else Y
    n, m = X.shape[0], Y.shape[0]
    D = np.zeros((n, m), dtype=np.float32)
    for j in range(layout.n_numeric):
        col_x = np.asarray(X[:, j], dtype=np.float32)
        col_y = np.asarray(Y[:, j], dtype=np.float32)
        span = float(max(col_x.max(), col_y.max()) - min(col_x.min(), col_y.min()))
        if span > 0:
            D += np.abs(col_x[:, None] - col_y[None, :]) / span
    cx, cy = layout.codes(X), layout.codes(Y)
    for j in range(len(layout.blocks)):
        D += (cx[:, j][:, None] != cy[:, j][None, :]) | (cx[:, j][:, None] < 0)
    D /= layout.n_numeric + len(layout.blocks)
    return D


#: a backend that accepts precomputed distances clusters Gower distances up to this many
#: rows (an n x n float32 matrix: 100 MB at 5,000); beyond, the scaled one-hot encoding
GOWER_MAX_ROWS = 5000


def gower_for(X: np.ndarray) -> np.ndarray | None:
    """The Gower distance matrix of a mixed table small enough for one, else None (a
    numeric table, or too many rows: the caller uses the encoded matrix as it is)."""
    lay = layout_of(X)
    if lay is None or X.shape[0] > GOWER_MAX_ROWS:
        return None
    return gower_distances(X, lay)


def categorical_note(schema: Schema) -> str:
    """The one line that says which columns were taken as categorical."""
    shown = ", ".join(f"{c} ({len(schema.levels[c])} levels)" for c in schema.categorical[:8])
    more = " ..." if len(schema.categorical) > 8 else ""
    return (f"categorical column{'s' if len(schema.categorical) > 1 else ''}: {shown}{more} "
            "(one-hot encoded; --numeric NAME to treat one as numbers)")
