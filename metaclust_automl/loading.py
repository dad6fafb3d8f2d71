"""Reading a user's table into a clean float matrix, or failing with one clear sentence.

Formats: CSV (delimiter and header detected), TSV, whitespace-separated text
(``.data.gz`` style), parquet, ``.npy`` and ``.npz``; any of the text formats may be
gzip-compressed. Options pick or drop columns and set a label column aside.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .validation import MIN_ROWS

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
WHITESPACE_SUFFIXES = {".data", ".txt", ".dat", ".mat"}
IMPUTE_METHODS = ("mean", "median")


@dataclass
class Table:
    """A loaded table: the feature matrix and what was set aside or changed on the way."""

    X: np.ndarray
    columns: list[str]
    labels: np.ndarray | None = None
    label_column: str | None = None
    dropped_constant: list[str] = field(default_factory=list)
    imputed: int = 0
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


def _suffixes(path: Path) -> tuple[str, bool]:
    """The format suffix (lower case) and whether the file is gzip-compressed."""
    sfx = [s.lower() for s in path.suffixes]
    gz = bool(sfx) and sfx[-1] in {".gz", ".gzip"}
    if gz:
        sfx = sfx[:-1]
    return (sfx[-1] if sfx else ""), gz


def _read_head(path: Path, gz: bool, size: int = 64_000) -> str:
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read(size)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if b"\x00" in raw:
        raise DataError(f"{path} looks like a binary file, not a text table; "
                        "supported: CSV, TSV, whitespace text, parquet, .npy, .npz")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 4:  # a multi-byte character cut by the read size
            return raw[:exc.start].decode("utf-8")
        try:
            return raw.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
            raise DataError(f"{path} is not a text table") from None


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if cell == "" or cell.lower() in {"nan", "na", "null", "none", "inf", "-inf", "+inf", "?"}:
        return True
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _sniff(head: str, default_sep: str | None) -> tuple[str | None, bool]:
    """Detect the delimiter (None = whitespace) and whether the first line is a header."""
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if not lines:
        return default_sep, False
    if head and not head.endswith("\n") and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the read size
    sample = "\n".join(lines[:50])
    sep = default_sep
    if sep is None or sep == ",":
        try:
            sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            sep = default_sep if default_sep is not None else ("," if "," in lines[0] else None)
    def cells(line: str) -> list[str]:
        return line.split() if sep is None else next(csv.reader([line], delimiter=sep))
    first = cells(lines[0])
    header = not all(_is_number(c) for c in first)
    if header and len(lines) == 1:
        header = True
    return sep, header


def _read_text(path: Path, gz: bool, default_sep: str | None) -> pd.DataFrame:
    head = _read_head(path, gz)
    if not head.strip():
        raise DataError(f"{path} is empty")
    sep, header = _sniff(head, default_sep)
    kwargs = dict(header=0 if header else None, compression="gzip" if gz else None,
                  skipinitialspace=True, na_values=["?", "NA", "nan", "NaN", "null", ""],
                  keep_default_na=True, encoding_errors="replace")
    try:
        if sep is None:
            df = pd.read_csv(path, sep=r"\s+", engine="c", **kwargs)
        else:
            df = pd.read_csv(path, sep=sep, engine="c", low_memory=False, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeError, ValueError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot parse {path} as a table: {first}") from None
    if not header:
        df.columns = [str(i) for i in range(df.shape[1])]
    else:
        df.columns = [str(c).strip() for c in df.columns]
    if df.shape[0] == 0:
        raise DataError(f"{path} has a header but no data rows")
    return df


def _read_npz(path: Path) -> tuple[pd.DataFrame, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if not keys:
                raise DataError(f"{path} holds no arrays")
            xkey = "X" if "X" in keys else ("data" if "data" in keys else keys[0])
            X = z[xkey]
            y = None
            for ykey in ("y", "labels", "target"):
                if ykey in keys and ykey != xkey:
                    y = z[ykey]
                    break
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot read {path} as .npz: {exc}") from None
    return _frame_from_array(X, path), y


def _frame_from_array(X: np.ndarray, path: Path) -> pd.DataFrame:
    if X.dtype == object:
        raise DataError(f"{path} holds Python objects, which are not loaded; save a numeric array")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise DataError(f"{path} holds a {X.ndim}-D array; a 2-D table is needed")
    if X.dtype.names:
        return pd.DataFrame(X)
    return pd.DataFrame(X, columns=[str(i) for i in range(X.shape[1])])


def read_frame(path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Read any supported file into a DataFrame (and the labels an .npz may carry)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a directory, not a table")
    if not os.access(p, os.R_OK):
        raise DataError(f"cannot read {p}: permission denied")
    if p.stat().st_size == 0:
        raise DataError(f"{p} is empty")
    suffix, gz = _suffixes(p)
    if suffix in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(p), None
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"cannot read {p} as parquet: {str(exc).splitlines()[0]}") from None
    if suffix == ".npy":
        try:
            return _frame_from_array(np.load(p, allow_pickle=False), p), None
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"cannot read {p} as .npy: {exc}") from None
    if suffix == ".npz":
        return _read_npz(p)
    if suffix in WHITESPACE_SUFFIXES:
        return _read_text(p, gz, None), None
    return _read_text(p, gz, TEXT_SUFFIXES.get(suffix, ",")), None


def _resolve_names(names: Sequence[str], columns: list[str], option: str) -> list[str]:
    out = []
    for name in names:
        if name in columns:
            out.append(name)
        elif name.isdigit() and int(name) < len(columns):
            out.append(columns[int(name)])
        else:
            shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
            raise DataError(f"{option} names column {name!r}, which is not in the table ({shown})")
    return out


def frame_to_table(df: pd.DataFrame, *, source: str = "table", columns: Sequence[str] | None = None,
                   drop: Sequence[str] = (), label_column: str | None = None,
                   impute: str | None = None, labels: np.ndarray | None = None,
                   min_rows: int = MIN_ROWS) -> Table:
    """Turn a DataFrame into a validated Table (shared by files and in-memory frames)."""
    df = df.copy(deep=False)
    df.columns = [str(c) for c in df.columns]
    cols = list(df.columns)
    label_name = None
    if label_column is not None:
        label_name = _resolve_names([label_column], cols, "--label-column")[0]
        labels = df[label_name].to_numpy()
    drop_names = set(_resolve_names(list(drop), cols, "--drop"))
    if columns:
        keep = _resolve_names(list(columns), cols, "--columns")
    else:
        keep = cols
    keep = [c for c in keep if c not in drop_names and c != label_name]
    if not keep:
        raise DataError(f"{source}: no feature columns left after --columns/--drop/--label-column")
    feats = df[keep]
    n = feats.shape[0]
    if n < min_rows:
        raise DataError(f"{source} has {n} data rows; at least {min_rows} are needed to cluster")
    bad_cols: list[str] = []
    example = ""
    converted = {}
    for c in keep:
        s = feats[c]
        if pd.api.types.is_bool_dtype(s):
            converted[c] = s.astype(np.float64)
            continue
        if pd.api.types.is_numeric_dtype(s):
            converted[c] = s
            continue
        num = pd.to_numeric(s, errors="coerce")
        wrong = num.isna() & s.notna() & (s.astype(str).str.strip() != "")
        if wrong.any():
            bad_cols.append(c)
            if not example:
                example = str(s[wrong].iloc[0])[:30]
        converted[c] = num
    if bad_cols:
        shown = ", ".join(repr(c) for c in bad_cols[:5]) + (" ..." if len(bad_cols) > 5 else "")
        flag = " ".join(f"--drop {c}" for c in bad_cols[:3])
        raise DataError(f"{source}: non-numeric column{'s' if len(bad_cols) > 1 else ''} {shown} "
                        f"(e.g. {example!r}); remove with {flag} or encode them as numbers")
    try:
        X = np.column_stack([np.asarray(converted[c], dtype=np.float64) for c in keep])
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"{source}: values cannot be read as numbers: {exc}") from None
    X = np.ascontiguousarray(X)
    bad = ~np.isfinite(X)
    imputed = 0
    if bad.any():
        count = int(bad.sum())
        rows = np.flatnonzero(bad.any(axis=1))
        first_row, first_col = int(rows[0]), int(np.flatnonzero(bad[rows[0]])[0])
        if impute is None:
            raise DataError(
                f"{source}: {count} missing, NaN or infinite value{'s' if count > 1 else ''} in "
                f"{rows.size} row{'s' if rows.size > 1 else ''} (first: data row {first_row + 1}, "
                f"column {keep[first_col]!r}); fill them with --impute mean or --impute median")
        if impute not in IMPUTE_METHODS:
            raise DataError(f"unknown imputation {impute!r}; choose one of: {', '.join(IMPUTE_METHODS)}")
        Xm = np.where(bad, np.nan, X)
        with np.errstate(all="ignore"):
            fill = np.nanmean(Xm, axis=0) if impute == "mean" else np.nanmedian(Xm, axis=0)
        if not np.all(np.isfinite(fill)):
            empty = [keep[i] for i in np.flatnonzero(~np.isfinite(fill))]
            raise DataError(f"{source}: column {empty[0]!r} has no finite value to impute from; drop it")
        X = np.where(bad, fill[None, :], X)
        imputed = count
    warnings_out: list[str] = []
    if imputed:
        warnings_out.append(f"imputed {imputed} missing values with the column {impute}")
    span = X.max(axis=0) - X.min(axis=0)
    const = [keep[i] for i in np.flatnonzero(span == 0)]
    if const:
        if len(const) == len(keep):
            raise DataError(f"{source}: every feature column is constant; there is nothing to cluster")
        mask = span != 0
        X = np.ascontiguousarray(X[:, mask])
        keep = [c for c, m in zip(keep, mask) if m]
        shown = ", ".join(repr(c) for c in const[:5]) + (" ..." if len(const) > 5 else "")
        warnings_out.append(f"dropped {len(const)} constant column{'s' if len(const) > 1 else ''}: {shown}")
    if labels is not None and len(labels) != n:
        raise DataError(f"{source}: {len(labels)} labels for {n} rows")
    return Table(X=X, columns=keep, labels=labels, label_column=label_name, dropped_constant=const,
                 imputed=imputed, source=source, warnings=warnings_out)


def load_table(path: str | os.PathLike, *, columns: Sequence[str] | None = None,
               drop: Sequence[str] = (), label_column: str | None = None,
               impute: str | None = None, min_rows: int = MIN_ROWS) -> Table:
    """Load a table file into a validated :class:`Table` (raises DataError)."""
    df, labels = read_frame(path)
    return frame_to_table(df, source=str(path), columns=columns, drop=drop,
                          label_column=label_column, impute=impute, labels=labels,
                          min_rows=min_rows)


def load_labels(path: str | os.PathLike) -> np.ndarray:
    """Read one label per row from a text file (``.labels0.gz`` style) or a one-column CSV."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    df, y = read_frame(p)
    if y is not None:
        return np.asarray(y)
    if df.shape[1] != 1:
        if "label" in df.columns:
            return df["label"].to_numpy()
        raise DataError(f"{p}: expected one label column, found {df.shape[1]} columns")
    return df.iloc[:, 0].to_numpy()


def write_labels_csv(path: str | os.PathLike, columns: dict[str, np.ndarray]) -> Path:
    """Write named columns as a CSV with a header, atomically."""
    from .atomic import atomic_path

    names = list(columns)
    frame = pd.DataFrame({k: np.asarray(v) for k, v in columns.items()}, columns=names)
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)
