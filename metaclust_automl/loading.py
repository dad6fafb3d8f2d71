"""Reading a user's table into a clean float matrix, or failing with one clear sentence.

Formats: CSV (delimiter and header detected), TSV, whitespace-separated text
(``.data.gz`` style), parquet, ``.npy`` and ``.npz``; any of the text formats may be
gzip-compressed. Options pick or drop columns and set a label column aside.

Delimited text goes through a streaming pyarrow reader first: it parses only the
columns that are used, straight into float64, a block at a time, so a 2,000,000 x 20
CSV costs about one copy of the matrix instead of the three or four a DataFrame round
trip costs. Anything that reader cannot settle (whitespace-separated text, odd quoting,
bytes that are not UTF-8) falls back to pandas, which is slower but more forgiving.
Both routes end in the same checks, so they fail with the same messages.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import io
import os
import re
import shlex
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DataError, NonNumericError
from .sizes import check_npy, check_npz_members, gzip_declared_size, over_budget, shown_bytes, table_budget
from .validation import MIN_ROWS

if TYPE_CHECKING:
    import pandas as pd

    from .encoding import Schema

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
WHITESPACE_SUFFIXES = {".data", ".txt", ".dat", ".mat"}
IMPUTE_METHODS = ("mean", "median")
#: cells read as missing (pandas' defaults plus "?", which UCI files use)
NA_TOKENS = ("", "?", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_NA_LOWER = {t.lower() for t in NA_TOKENS} | {"inf", "-inf", "+inf", "infinity", "-infinity"}
#: candidate delimiters of delimited text
DELIMITERS = ",;\t|"
_HEAD_BYTES = 64_000
_MAX_HEAD_BYTES = 16_000_000
_BLOCK_BYTES = 1 << 22
_GZIP_MAGIC = b"\x1f\x8b"


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
    #: how categorical columns were encoded (None: a numeric table); see ``encoding.py``
    schema: Schema | None = None
    #: what the user should know but need not act on (which columns are categorical)
    notes: list[str] = field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        """Names of the columns of ``X`` (``colour=red`` for a one-hot column)."""
        return self.schema.feature_names if self.schema is not None else list(self.columns)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


def _drop_flag(name: str, names: list[str]) -> str:
    """``--drop NAME``, quoted for a shell where the name needs it; the column's index
    where the name holds characters a terminal would not show."""
    if not name.isprintable() and name in names:
        return f"--drop {names.index(name)}"
    return f"--drop {shlex.quote(name)}"


def _printable(text: str) -> str:
    """``text`` with every character a terminal would not show (line breaks included)
    escaped, so that an error stays on one line."""
    return text if text.isprintable() else "".join(
        c if c.isprintable() else repr(c)[1:-1] for c in text)


def _one_line_errors(func):  # noqa: ANN001, ANN201
    """Decorator: the DataErrors of a public loader function come out on one line, whatever
    the file name or the column names hold."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return func(*args, **kwargs)
        except DataError as exc:
            text = str(exc)
            if text.isprintable():
                raise
            raise DataError(_printable(text)) from None
    return wrapper


# -- files -------------------------------------------------------------------------

def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a directory, not a table")
    if not os.access(p, os.R_OK):
        raise DataError(f"cannot read {p}: permission denied")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from None
    if size == 0:
        raise DataError(f"{p} is empty")
    return p


def _suffixes(path: Path) -> tuple[str, bool]:
    """The format suffix (lower case) and whether the file is gzip-compressed.

    A gzip file is recognised by its magic bytes too, whatever it is called."""
    sfx = [s.lower() for s in path.suffixes]
    gz = bool(sfx) and sfx[-1] in {".gz", ".gzip"}
    if gz:
        sfx = sfx[:-1]
    if not gz:
        try:
            with open(path, "rb") as fh:
                gz = fh.read(2) == _GZIP_MAGIC
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return (sfx[-1] if sfx else ""), gz


def _read_head_bytes(path: Path, gz: bool) -> bytes:
    """The first 64 kB of the (decompressed) file, extended until it holds two whole lines."""
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read(_HEAD_BYTES)
            while raw.count(b"\n") < 2 and len(raw) < _MAX_HEAD_BYTES:
                more = fh.read(len(raw))
                if not more:
                    break
                raw += more
            more_follows = b"\n" not in raw and len(raw) >= _MAX_HEAD_BYTES and bool(fh.read(1))
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DataError(f"cannot read {path}: {reason}") from None
    if more_follows:
        raise DataError(f"{path}: the first line is longer than {_MAX_HEAD_BYTES // 1_000_000} MB without a "
                        "line break; this is not a table metaclust can read")
    return raw


def _decode_head(raw: bytes, path: Path) -> tuple[str, str]:
    """Decode the head; returns (text without a byte-order mark, encoding for the reader)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(f"{path} is UTF-16 text; save it as UTF-8")
    if b"\x00" in raw:
        raise DataError(f"{path} looks like a binary file, not a text table; "
                        "supported: CSV, TSV, whitespace text, parquet, .npy, .npz")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 4:  # a multi-byte character cut by the read size
            try:
                return raw[:exc.start].decode("utf-8"), "utf8"
            except UnicodeDecodeError:
                pass
    return raw.decode("latin-1"), "latin-1"


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if cell.lower() in _NA_LOWER:
        return True
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _complete_lines(head: str) -> list[str]:
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if head and not head.endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the read size
    return lines


def _consistent_delimiter(lines: list[str]) -> str | None:
    """The candidate delimiter found the same (non-zero) number of times on every line."""
    best, best_count = None, 0
    for sep in DELIMITERS:
        counts = {ln.count(sep) for ln in lines}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = sep, count
    return best


def _sniff(head: str, default_sep: str | None) -> tuple[str | None, bool]:
    """Detect the delimiter (None = whitespace) and whether the first line is a header."""
    head = head.lstrip("\ufeff")
    lines = _complete_lines(head)
    if not lines:
        return default_sep, False
    sample = "\n".join(lines[:50])
    sep = default_sep
    if sep is None or sep == "," or sep not in lines[0]:
        try:
            sep = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        except csv.Error:
            sep = _consistent_delimiter(lines[:50])
            if sep is None:
                fields = {len(ln.split()) for ln in lines[:50]}
                whitespace = len(fields) == 1 and fields.pop() > 1
                sep = None if (default_sep is None or whitespace) else default_sep

    def cells(line: str) -> list[str]:
        if sep is None:
            return [c.strip('"') for c in line.split()]
        try:
            return next(csv.reader([line], delimiter=sep))
        except (csv.Error, StopIteration):
            return line.split(sep)

    first = cells(lines[0])
    header = not all(_is_number(c) for c in first)
    return sep, header


def _clean_names(raw: Sequence[object]) -> list[str]:
    """Column names as pandas makes them: stripped, 'Unnamed: i' for blanks, 'a.1' for repeats."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw):
        base = str(name).strip() or f"Unnamed: {i}"
        candidate, k = base, 0
        while candidate in seen:
            k += 1
            candidate = f"{base}.{k}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


#: pandas holds the parsed text several times over before it makes the frame
_PANDAS_TEXT_FACTOR = 3


def _check_text_size(path: Path, gz: bool) -> None:
    """Refuse text that pandas could not parse within the table budget: for a gzip file the
    decompressed bytes are counted as a stream (nothing kept), stopping at the budget, so a
    few-MB gzip of gigabytes is refused after reading only what the budget allows."""
    limit = table_budget() // _PANDAS_TEXT_FACTOR
    if not gz:
        size = path.stat().st_size
        if size > limit:
            raise over_budget(path, f"parsing {shown_bytes(size)} of text", size * _PANDAS_TEXT_FACTOR,
                              limit * _PANDAS_TEXT_FACTOR)
        return
    declared = gzip_declared_size(path)
    if declared > limit:
        raise over_budget(path, f"parsing {shown_bytes(declared)} of decompressed text",
                          declared * _PANDAS_TEXT_FACTOR, limit * _PANDAS_TEXT_FACTOR)
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read(_BLOCK_BYTES):
                total += len(block)
                if total > limit:
                    raise over_budget(path, f"parsing more than {shown_bytes(total)} of decompressed text",
                                      total * _PANDAS_TEXT_FACTOR, limit * _PANDAS_TEXT_FACTOR)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path}: {_first_line(exc)}") from None


def _read_text(path: Path, gz: bool, default_sep: str | None) -> pd.DataFrame:
    """The forgiving reader: pandas' C parser (whitespace text, odd quoting, any encoding)."""
    import pandas as pd  # lazy: only the forgiving reader and writers need it
    head, _ = _decode_head(_read_head_bytes(path, gz), path)
    if not head.strip():
        raise DataError(f"{path} is empty")
    sep, header = _sniff(head, default_sep)
    _check_text_size(path, gz)
    kwargs = dict(header=0 if header else None, compression="gzip" if gz else None,
                  skipinitialspace=True, na_values=list(NA_TOKENS),
                  keep_default_na=True, encoding="utf-8", encoding_errors="replace")
    try:
        if sep is None:
            df = pd.read_csv(path, sep=r"\s+", engine="c", **kwargs)
        else:
            df = pd.read_csv(path, sep=sep, engine="c", low_memory=False, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeError, ValueError, OSError, EOFError,
            OverflowError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot parse {path} as a table: {_first_line(exc)}") from None
    if not header:
        df.columns = [str(i) for i in range(df.shape[1])]
    else:
        df.columns = _clean_names(df.columns)
    if df.shape[0] == 0:
        raise DataError(f"{path} has a header but no data rows")
    return df


def _read_npz(path: Path) -> tuple[pd.DataFrame, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            check_npz_members(z, path)
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
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise DataError(f"cannot read {path} as .npz: {_first_line(exc)}") from None
    return _frame_from_array(X, path), y


def _frame_from_array(X: np.ndarray, path: Path) -> pd.DataFrame:
    import pandas as pd  # lazy: only the forgiving reader and writers need it
    if X.dtype == object:
        raise DataError(f"{path} holds Python objects, which are not loaded; save a numeric array")
    if X.ndim == 0:
        raise DataError(f"{path} holds a single value; a 2-D table is needed")
    if X.ndim == 1 and not X.dtype.names:
        X = X.reshape(-1, 1)
    if X.dtype.names:
        if X.ndim != 1:
            raise DataError(f"{path} holds a {X.ndim}-D record array; a 1-D record array is needed")
        return pd.DataFrame(X)
    if X.ndim != 2:
        raise DataError(f"{path} holds a {X.ndim}-D array; a 2-D table is needed")
    return pd.DataFrame(X, columns=[str(i) for i in range(X.shape[1])], copy=False)


@_one_line_errors
def read_frame(path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Read any supported file into a DataFrame (and the labels an .npz may carry)."""
    import pandas as pd  # lazy: only the forgiving reader and writers need it
    p = _check_path(path)
    suffix, gz = _suffixes(p)
    if suffix in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(p), None
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"cannot read {p} as parquet: {_first_line(exc)}") from None
    if suffix == ".npy":
        check_npy(p)
        try:
            return _frame_from_array(np.load(p, allow_pickle=False), p), None
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"cannot read {p} as .npy: {_first_line(exc)}") from None
    if suffix == ".npz":
        return _read_npz(p)
    if suffix in WHITESPACE_SUFFIXES:
        return _read_text(p, gz, None), None
    return _read_text(p, gz, TEXT_SUFFIXES.get(suffix, ",")), None


# -- the fast route for delimited text ------------------------------------------------

class _Fallback(Exception):
    """The streaming reader cannot settle this file; the pandas route takes over."""


def _expected_rows(head_bytes: int, head_lines: int, path: Path, gz: bool) -> int:
    """A generous guess of the number of rows, so the matrix is rarely grown."""
    try:
        size = path.stat().st_size * (4 if gz else 1)
    except OSError:
        size = head_bytes
    per_line = max(1.0, head_bytes / max(head_lines, 1))
    return int(size / per_line * 1.05) + 1024


def _ragged_message(path: Path, exc: BaseException, header: bool, sep: str) -> str | None:
    m = re.search(r"Expected (\d+) columns, got (\d+)(?::\s*(.*))?", str(exc))
    if not m:
        return None
    want, got, row = m.group(1), m.group(2), (m.group(3) or "").splitlines()
    snippet = row[0][:60] if row else ""
    ref = "the header has" if header else "the first row has"
    shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(sep, repr(sep))
    return (f"cannot parse {path} as a table: a row has {got} fields where {ref} {want} "
            f"(row starting {snippet!r}); check the delimiter ({shown}) and the quoting")


def _load_delimited(p: Path, gz: bool, default_sep: str, *, columns: Sequence[str] | None,
                    drop: Sequence[str], label_column: str | None, impute: str | None,
                    min_rows: int) -> Table:
    """Stream a delimited text file into a float matrix (raises DataError or _Fallback)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw = _read_head_bytes(p, gz)
    head, encoding = _decode_head(raw, p)
    if not head.strip():
        raise DataError(f"{p} is empty")
    sep, header = _sniff(head, default_sep)
    single_spaced = False
    if sep is None:
        # Whitespace-separated text with exactly one space between fields (what numpy's
        # savetxt writes) streams like CSV; anything irregular goes to pandas.
        lines = _complete_lines(head)[:200]
        single_spaced = bool(lines) and all(
            "\t" not in ln and "  " not in ln and ln == ln.strip(" ") for ln in lines)
        if not single_spaced:
            raise _Fallback
        sep = " "
    try:
        first = next(csv.reader(io.StringIO(head), delimiter=sep))
    except (csv.Error, StopIteration):
        raise _Fallback from None
    names = _clean_names(first) if header else [str(i) for i in range(len(first))]
    label_name, keep = _select_columns(names, columns, drop, label_column, str(p))
    wanted = keep + ([label_name] if label_name else [])
    if len(set(wanted)) != len(wanted):  # pragma: no cover - _select_columns prevents it
        raise _Fallback
    read_opts = dict(column_names=names, skip_rows=1 if header else 0,
                     block_size=_BLOCK_BYTES, encoding=encoding)
    types: dict[str, object] = {c: pa.float64() for c in keep}
    if gz:  # the gzip trailer's size (a lower bound) can refuse a bomb before it is inflated
        rows = gzip_declared_size(p) / max(len(raw) / max(raw.count(b"\n"), 1), 1.0)
        need, budget = 8.0 * rows * len(keep), table_budget()
        if need > budget:
            raise over_budget(p, f"about {rows:,.0f} rows x {len(keep)} columns", need, budget)
    newlines = False
    for _attempt in range(3):
        try:
            return _stream(p, gz, pa, pacsv, read_opts, sep, newlines, types, keep, label_name,
                           header=header, estimate=_expected_rows(len(raw), raw.count(b"\n"), p, gz),
                           impute=impute, min_rows=min_rows)
        except pa.ArrowInvalid as exc:
            text = str(exc)
            if "Expected" in text and "columns, got" in text:
                if single_spaced:
                    raise _Fallback from None  # irregular spacing further down
                if not newlines:
                    newlines = True  # perhaps a quoted value spans lines: read again allowing it
                    continue
                raise DataError(_ragged_message(p, exc, header, sep) or
                                f"cannot parse {p} as a table: {_first_line(exc)}") from None
            conv = re.search(r"column #(\d+): CSV conversion error to (?:double|bool): "
                             r"invalid value '(.*)'", text, flags=re.S)
            if conv:
                retyped = _diagnose(p, gz, pa, pacsv, read_opts, sep, newlines, keep, conv, types)
                if retyped is None:
                    raise _Fallback from None
                types = retyped
                continue
            raise _Fallback from None
        except (pa.ArrowException, OSError, EOFError, UnicodeError) as exc:
            raise _Fallback from exc
    raise _Fallback


def _open(p: Path, gz: bool, pa, pacsv, read_opts: dict, sep: str, newlines: bool,  # noqa: ANN001
          types: dict, include: list[str]):
    stream = pa.input_stream(str(p), compression="gzip" if gz else None)
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(**read_opts),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                         escape_char=False, newlines_in_values=newlines,
                                         ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=include,
                                             null_values=list(NA_TOKENS), strings_can_be_null=True,
                                             quoted_strings_can_be_null=True))
    return stream, reader


def _stream(p: Path, gz: bool, pa, pacsv, read_opts: dict, sep: str, newlines: bool,  # noqa: ANN001
            types: dict, keep: list[str], label_name: str | None, *, header: bool, estimate: int,
            impute: str | None, min_rows: int) -> Table:
    include = keep + ([label_name] if label_name else [])
    stream, reader = _open(p, gz, pa, pacsv, read_opts, sep, newlines, types, include)
    d = len(keep)
    budget = table_budget()
    max_rows = max(budget // (8 * max(d, 1)), 1)
    try:
        X = np.empty((min(max(estimate, 1), max_rows), d), dtype=np.float64)
    except MemoryError:  # a wild guess: start small and grow
        X = np.empty((65_536, d), dtype=np.float64)
    n = 0
    label_parts: list[np.ndarray] = []
    try:
        for batch in reader:
            m = batch.num_rows
            if m == 0:
                continue
            if n + m > X.shape[0]:
                if n + m > max_rows:
                    raise over_budget(p, f"more than {n + m:,} rows x {d} columns", 8.0 * (n + m) * d, budget)
                X.resize((min(max(int(X.shape[0] * 1.5), n + m), max_rows), d), refcheck=False)
            for j, name in enumerate(keep):
                col = batch.column(name)
                if not pa.types.is_floating(col.type):
                    col = col.cast(pa.float64())  # a column read as bool
                X[n:n + m, j] = _float_values(col, pa)
            if label_name:
                label_parts.append(batch.column(label_name).to_numpy(zero_copy_only=False))
            n += m
    finally:
        stream.close()
    X.resize((n, d), refcheck=False)
    if n == 0:
        raise DataError(f"{p} has a header but no data rows" if header else f"{p} is empty")
    labels = None
    if label_name:
        labels = np.concatenate(label_parts) if len(label_parts) > 1 else label_parts[0]
    if n < min_rows:
        raise DataError(_too_few_rows(str(p), n, min_rows))
    return _finish(X, keep, source=str(p), impute=impute, labels=labels, label_name=label_name)


def _float_values(col, pa) -> np.ndarray:  # noqa: ANN001
    """A float64 arrow column as numpy, NaN where a value is missing, read from its buffers:
    pyarrow's own ``to_numpy`` imports pandas (a fifth of a second of every ``metaclust
    cluster``) and gives the same values."""
    bufs = col.buffers()
    if col.type != pa.float64() or len(bufs) != 2 or bufs[1] is None:
        return col.to_numpy(zero_copy_only=False)
    n, off = len(col), col.offset
    values = np.frombuffer(bufs[1], dtype=np.float64, count=off + n)[off:]
    if col.null_count:
        valid = np.unpackbits(np.frombuffer(bufs[0], dtype=np.uint8), count=off + n, bitorder="little")[off:]
        values = np.where(valid.astype(bool), values, np.nan)
    return values


def _diagnose(p: Path, gz: bool, pa, pacsv, read_opts: dict, sep: str, newlines: bool,  # noqa: ANN001
              keep: list[str], conv: re.Match, types: dict) -> dict | None:
    """A value did not parse as a number: find every column at fault (from the first block),
    or the columns of true/false values, which are read as 0/1 like pandas does."""
    names = read_opts["column_names"]
    index = int(conv.group(1))  # arrow counts the file's columns, not the ones read
    failed = names[index] if index < len(names) and names[index] in keep else None
    example = conv.group(2)[:30]
    stream, reader = _open(p, gz, pa, pacsv, read_opts, sep, newlines, {}, keep)
    try:
        batch = reader.read_next_batch()
    except (pa.ArrowException, StopIteration):
        return None
    finally:
        stream.close()
    bad: list[str] = []
    booleans: list[str] = []
    first_example = ""
    for name in keep:
        t = batch.column(name).type
        if pa.types.is_boolean(t):
            booleans.append(name)
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
            bad.append(name)
            if not first_example:
                values = (str(v) for v in batch.column(name).to_pylist() if v is not None)
                first_example = next((v for v in values if not _is_number(v)), "")[:30]
    if failed is None:
        return None  # the label column: let pandas read it
    if failed not in bad and (failed not in booleans or types.get(failed) == pa.bool_()):
        bad.append(failed)  # numbers (or true/false) first, text further down
    if bad:
        bad = [c for c in keep if c in bad]
        raise NonNumericError(_non_numeric_message(str(p), bad, first_example or example, names))
    if booleans:  # true/false columns are categorical: the pandas route encodes them
        raise NonNumericError(_non_numeric_message(str(p), booleans, "true", names))
    return None


# -- turning columns into a matrix ------------------------------------------------------

def _resolve_names(names: Sequence[str], columns: list[str], option: str) -> list[str]:
    out = []
    for name in names:
        if name in columns:
            out.append(name)
        elif name.isdigit() and int(name) < len(columns):
            out.append(columns[int(name)])
        else:
            shown = ", ".join(c if c.isprintable() else repr(c) for c in columns[:10])
            shown += ", ..." if len(columns) > 10 else ""
            raise DataError(f"{option} names column {name!r}, which is not in the table ({shown})")
    return out


def _select_columns(names: list[str], columns: Sequence[str] | None, drop: Sequence[str],
                    label_column: str | None, source: str) -> tuple[str | None, list[str]]:
    """(label column, feature columns) after --columns, --drop and --label-column."""
    label_name = None
    if label_column is not None:
        label_name = _resolve_names([label_column], names, "--label-column")[0]
    drop_names = set(_resolve_names(list(drop), names, "--drop"))
    keep = _resolve_names(list(columns), names, "--columns") if columns else list(names)
    seen: set[str] = set()
    keep = [c for c in keep if c not in drop_names and c != label_name
            and not (c in seen or seen.add(c))]
    if not keep:
        raise DataError(f"{source}: no feature columns left after --columns/--drop/--label-column")
    return label_name, keep


def _check_impute(impute: str | None) -> None:
    if impute is not None and impute not in IMPUTE_METHODS:
        raise DataError(f"unknown imputation {impute!r}; choose one of: {', '.join(IMPUTE_METHODS)}")


def _too_few_rows(source: str, n: int, min_rows: int) -> str:
    return (f"{source} has {n} data row{'' if n == 1 else 's'}; "
            f"at least {min_rows} are needed to cluster")


def _non_numeric_message(source: str, bad_cols: list[str], example: str, names: list[str]) -> str:
    n_columns = len(names)
    shown = ", ".join(repr(c) for c in bad_cols[:5]) + (" ..." if len(bad_cols) > 5 else "")
    flag = " ".join(_drop_flag(c, names) for c in bad_cols[:3])
    hint = ""
    if n_columns == 1 and re.search(r"\S[\s;,:|/]+\S", example):
        hint = " (the whole line was read as one column: is the delimiter right?)"
    elif re.fullmatch(r"\s*[-+]?\d{1,3}(,\d{3})+(\.\d*)?\s*", example):
        hint = (" (thousands separators are not read: write 1234567.5, not 1,234,567.5)"
                if example.count(",") > 1 or "." in example else
                " (a comma in a number is not read, whether a thousands separator or a decimal comma: "
                "write 1234 or 1.234)")
    elif re.fullmatch(r"\s*[-+]?\d+,\d+\s*", example):
        hint = " (decimal commas are not read: use '.')"
    return (f"{source}: non-numeric column{'s' if len(bad_cols) > 1 else ''} {shown} "
            f"(e.g. {example!r}){hint}; remove with {flag} or encode them as numbers")


def _numeric_column(s: pd.Series) -> tuple[np.ndarray | None, str]:
    """The column as float64 (NaN for missing), or (None, an offending value)."""
    import pandas as pd  # lazy: only the forgiving reader and writers need it
    dtype = s.dtype
    kind = getattr(dtype, "kind", "O")
    if pd.api.types.is_bool_dtype(dtype):
        return s.to_numpy(dtype=np.float64, na_value=np.nan), ""
    if kind in "mMc" or isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype):
        values = s.dropna()
        return None, (str(values.iloc[0])[:30] if len(values) else str(dtype))
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        try:
            return s.to_numpy(dtype=np.float64, na_value=np.nan), ""
        except (TypeError, ValueError, OverflowError):
            pass
    try:
        num = pd.to_numeric(s, errors="coerce")
    except (TypeError, ValueError, OverflowError):
        values = s.dropna()
        return None, (str(values.iloc[0])[:30] if len(values) else str(dtype))
    wrong = num.isna().to_numpy() & s.notna().to_numpy()
    if wrong.any():
        text = s[wrong].astype(str)
        real = text.str.strip().ne("").to_numpy() & ~text.isin(NA_TOKENS).to_numpy()
        if real.any():
            return None, str(text[real].iloc[0])[:30]
    try:
        return num.to_numpy(dtype=np.float64, na_value=np.nan), ""
    except (TypeError, ValueError, OverflowError):
        values = s.dropna()
        return None, (str(values.iloc[0])[:30] if len(values) else str(dtype))


def _finish(X: np.ndarray, keep: list[str], *, source: str, impute: str | None,
            labels: np.ndarray | None, label_name: str | None) -> Table:
    """The checks every route shares: missing values, imputation, constant columns, labels.

    Works column by column and in place, so a big matrix is never copied whole."""
    n = X.shape[0]
    if labels is not None and len(labels) != n:
        raise DataError(f"{source}: {len(labels)} labels for {n} rows")
    counts = np.zeros(len(keep), dtype=np.int64)
    for j in range(len(keep)):
        counts[j] = n - int(np.count_nonzero(np.isfinite(X[:, j])))
    warnings_out: list[str] = []
    empty = [keep[j] for j in np.flatnonzero(counts == n)]
    if empty:
        # A column without a single number (an export's trailing delimiter, say) says nothing.
        if len(empty) == len(keep):
            raise DataError(f"{source}: no column holds a number; every value is missing")
        mask = counts != n
        X = np.ascontiguousarray(X[:, mask])
        keep = [c for c, m in zip(keep, mask) if m]
        counts = counts[mask]
        shown = ", ".join(repr(c) for c in empty[:5]) + (" ..." if len(empty) > 5 else "")
        warnings_out.append(f"dropped {len(empty)} empty column{'s' if len(empty) > 1 else ''} "
                            f"(no numbers): {shown}")
    imputed = 0
    if counts.any():
        count = int(counts.sum())
        bad_rows = np.zeros(n, dtype=bool)
        for j in np.flatnonzero(counts):
            bad_rows |= ~np.isfinite(X[:, j])
        rows = np.flatnonzero(bad_rows)
        first_row = int(rows[0])
        first_col = next(j for j in range(len(keep)) if not np.isfinite(X[first_row, j]))
        if impute is None:
            worst = np.argsort(-counts, kind="stable")[:3]
            where = ", ".join(f"{keep[j]!r}: {counts[j]}" for j in worst if counts[j])
            more = " ..." if np.count_nonzero(counts) > 3 else ""
            raise DataError(
                f"{source}: {count} missing, NaN or infinite value{'s' if count > 1 else ''} in "
                f"{rows.size} row{'s' if rows.size > 1 else ''} (first: data row {first_row + 1}, "
                f"column {keep[first_col]!r}; per column {where}{more}); "
                f"fill them with --impute mean or --impute median")
        _check_impute(impute)
        for j in np.flatnonzero(counts):
            col = X[:, j]
            finite = np.isfinite(col)
            col[~finite] = np.mean(col[finite]) if impute == "mean" else np.median(col[finite])
        imputed = count
        warnings_out.append(f"imputed {imputed} missing values with the column {impute}")
    with np.errstate(over="ignore", invalid="ignore"):
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
    return Table(X=X, columns=keep, labels=labels, label_column=label_name, dropped_constant=const,
                 imputed=imputed, source=source, warnings=warnings_out)


@_one_line_errors
def frame_to_table(df: pd.DataFrame, *, source: str = "table", columns: Sequence[str] | None = None,
                   drop: Sequence[str] = (), label_column: str | None = None,
                   impute: str | None = None, labels: np.ndarray | None = None,
                   min_rows: int = MIN_ROWS, categorical: Sequence[str] = (),
                   numeric: Sequence[str] = ()) -> Table:
    """Turn a DataFrame into a validated Table (shared by files and in-memory frames).

    Columns are converted one at a time into a preallocated matrix: no copy of the frame.
    A table with categorical columns (text, booleans, pandas categoricals, or those named in
    ``categorical``) is encoded by :func:`encoding.mixed_table` instead."""
    _check_impute(impute)
    names = _clean_names(df.columns)
    position = {name: i for i, name in enumerate(names)}
    label_name, keep = _select_columns(names, columns, drop, label_column, source)
    if label_name is not None:
        labels = df.iloc[:, position[label_name]].to_numpy()
    n = df.shape[0]
    if n < min_rows:
        raise DataError(_too_few_rows(source, n, min_rows))
    if categorical or numeric or has_categorical(df, keep, position):
        return mixed_table(df, names, position, keep, source=source, impute=impute, labels=labels,
                           label_name=label_name, categorical=categorical, numeric=numeric)
    X = np.empty((n, len(keep)), dtype=np.float64)
    bad_cols: list[str] = []
    example = ""
    for j, name in enumerate(keep):
        values, wrong = _numeric_column(df.iloc[:, position[name]])
        if values is None:
            bad_cols.append(name)
            example = example or wrong
        else:
            X[:, j] = values
    if bad_cols:
        raise NonNumericError(_non_numeric_message(source, bad_cols, example, names))
    return _finish(X, keep, source=source, impute=impute, labels=labels, label_name=label_name)


STDIN = "-"


def _is_stream(path: str | os.PathLike) -> bool:
    """``-`` (standard input) or a pipe, terminal or device (``/dev/stdin`` fed by ``|``),
    whose size says nothing about what it holds."""
    if str(path) == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


@contextlib.contextmanager
def _spooled(path: str | os.PathLike):  # noqa: ANN202
    """A regular temporary copy of a stream, counted against the table budget as it is read
    (a pipe can be read once only, and its size is unknown until it ends)."""
    import sys
    import tempfile

    budget = table_budget()
    shown = "standard input" if str(path) == STDIN else str(path)
    fd, tmp = tempfile.mkstemp(prefix="metaclust-stdin-", suffix="".join(Path(str(path)).suffixes[-2:]))
    try:
        with os.fdopen(fd, "wb") as out:
            src = sys.stdin.buffer if str(path) == STDIN else open(path, "rb")  # noqa: SIM115
            try:
                total = 0
                while block := src.read(_BLOCK_BYTES):
                    total += len(block)
                    if total > budget:
                        raise over_budget(shown, f"more than {shown_bytes(total)} of input", total, budget)
                    out.write(block)
            finally:
                if src is not sys.stdin.buffer:
                    src.close()
        if total == 0:
            raise DataError(f"{shown} is empty: nothing was piped in")
        yield Path(tmp), shown
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _numeric_header_warning(p: Path, gz: bool, default_sep: str | None) -> str | None:
    """A warning when the first line, read as data because it holds only numbers, looks like
    a header of numeric names: whole numbers, all different, above columns of fractions (or
    exactly 0..d-1 or 1..d)."""
    try:
        head, _ = _decode_head(_read_head_bytes(p, gz), p)
    except DataError:
        return None
    sep, header = _sniff(head, default_sep)
    lines = _complete_lines(head.lstrip("\ufeff"))[:51]
    if header or len(lines) < 2:
        return None
    rows = [ln.split() if sep is None else ln.split(sep) for ln in lines]
    first = [c.strip().strip('"') for c in rows[0]]
    if not all(re.fullmatch(r"[-+]?\d+", c) for c in first) or len(set(first)) != len(first):
        return None
    values = [int(c) for c in first]
    d = len(values)
    indices = values in (list(range(d)), list(range(1, d + 1)))
    fractions = any(not re.fullmatch(r"\s*\"?[-+]?\d+\"?\s*", c) for r in rows[1:] for c in r)
    if not (indices or (fractions and d > 1)):
        return None
    shown = ", ".join(first[:5]) + (", ..." if d > 5 else "")
    return (f"the first line of {p} ({shown}) holds only numbers and was read as a data row; if it is a "
            "header, give the columns names that are not numbers (e.g. c0, c1, ...)")


# -- mixed tables: categorical columns (the encoding itself lives in encoding.py) -------------

def has_categorical(df: pd.DataFrame, keep: Sequence[str], position: dict[str, int]) -> bool:
    """Whether any kept column is boolean, pandas categorical, or text that is not numbers
    (a numeric table answers False after one dtype look per column and takes the float path)."""
    import pandas as pd  # lazy: only the forgiving reader and writers need it
    from .encoding import _is_text

    for name in keep:
        s = df.iloc[:, position[name]]
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            return True
        if _is_text(s) and _numeric_column(s)[0] is None:
            return True
    return False


def _forced(names: Sequence[str], columns: list[str], option: str) -> list[str]:
    return _resolve_names(list(names), columns, option)


def mixed_table(df: pd.DataFrame, names: list[str], position: dict[str, int], keep: list[str], *,
                source: str, impute: str | None, labels: np.ndarray | None, label_name: str | None,
                categorical: Sequence[str] = (), numeric: Sequence[str] = ()) -> Table:
    """A :class:`Table` of a frame with categorical columns: the
    numeric ones go through the loader's checks (missing values, imputation, constant
    columns), the categorical ones are one-hot encoded; ``X`` is a :class:`MixedMatrix`.

    Identifier-like text columns (nearly one value per row) and text with too many
    levels are refused, naming them, unless ``categorical`` names them."""
    import pandas as pd  # lazy: only the forgiving reader and writers need it
    from .encoding import (ID_SHARE, _is_text, _mostly_numbers, categorical_note, column_kind, fit_schema,
                           too_many_levels)

    force_cat = set(_forced(categorical, names, "--categorical"))
    force_num = set(_forced(numeric, names, "--numeric"))
    both = force_cat & force_num
    if both:
        raise DataError(f"column {sorted(both)[0]!r} is named by both --categorical and --numeric")
    n = df.shape[0]
    num_names: list[str] = []
    num_cols: list[np.ndarray] = []
    cat_names: list[str] = []
    bad: list[str] = []
    example = ""
    ids: list[tuple[str, int]] = []
    for name in keep:
        s = df.iloc[:, position[name]]
        if name in force_cat:
            cat_names.append(name)
            continue
        values, wrong = _numeric_column(s)
        if name in force_num:
            if values is None:
                raise DataError(f"{source}: --numeric names column {name!r}, whose values are not "
                                f"numbers (e.g. {wrong!r})")
            num_names.append(name)
            num_cols.append(values)
            continue
        kind = column_kind(s, None if pd.api.types.is_bool_dtype(s.dtype) else values)
        if kind == "numeric":
            num_names.append(name)
            num_cols.append(values)
        elif kind == "categorical" and _is_text(s) and _mostly_numbers(s):
            bad.append(name)  # numbers with a stray word: a broken numeric column, not categories
            example = example or wrong
        elif kind == "categorical":
            n_levels = int(s.nunique(dropna=True))
            if _is_text(s) and (n_levels >= ID_SHARE * max(1, int(s.notna().sum())) and n_levels > 2
                                or too_many_levels(n_levels, n)):
                ids.append((name, n_levels))
                example = example or str(s.dropna().iloc[0])[:30]
            else:
                cat_names.append(name)
        else:
            bad.append(name)
            example = example or wrong
    if bad:
        raise DataError(_non_numeric_message(source, bad, example, names))
    if ids:
        plain = _non_numeric_message(source, [c for c, _ in ids], example, names)
        if "(the whole line" in plain or "decimal commas" in plain:
            raise DataError(plain)  # a misread file, not identifiers: say how to read it
        shown = ", ".join(repr(c) for c, _ in ids[:5]) + (" ..." if len(ids) > 5 else "")
        counts = ", ".join(f"{k:,}" for _, k in ids[:5])
        flag = " ".join(_drop_flag(c, names) for c, _ in ids[:3])
        many = len(ids) > 1
        raise DataError(f"{source}: non-numeric column{'s' if many else ''} {shown} (e.g. {example!r}) "
                        f"look{'' if many else 's'} like {'identifiers' if many else 'an identifier'}, "
                        f"not {'categories' if many else 'a category'} ({counts} distinct values in {n:,} rows); remove with {flag} "
                        f"(or force with --categorical NAME)")
    warnings_out: list[str] = []
    num = np.empty((n, 0))
    dropped: list[str] = []
    imputed = 0
    if num_names:
        block = np.column_stack(num_cols) if num_cols else np.empty((n, 0))
        try:
            part = _finish(block, num_names, source=source, impute=impute, labels=None, label_name=None)
        except DataError as exc:
            if "every feature column is constant" not in str(exc) or not cat_names:
                raise
            part = None
            dropped = list(num_names)
            warnings_out.append(f"dropped {len(num_names)} constant column"
                                f"{'s' if len(num_names) > 1 else ''}: "
                                + ", ".join(repr(c) for c in num_names[:5]))
        if part is not None:
            num, num_names = part.X, part.columns
            dropped, imputed = part.dropped_constant, part.imputed
            warnings_out.extend(part.warnings)
        else:
            num_names = []
    frame = pd.DataFrame({c: df.iloc[:, position[c]] for c in cat_names})
    constant = [c for c in cat_names if frame[c].nunique(dropna=False) < 2]
    if constant:
        cat_names = [c for c in cat_names if c not in constant]
        dropped += constant
        warnings_out.append(f"dropped {len(constant)} constant categorical column"
                            f"{'s' if len(constant) > 1 else ''}: " + ", ".join(repr(c) for c in constant[:5]))
    if not cat_names and not num_names:
        raise DataError(f"{source}: every feature column is constant; there is nothing to cluster")
    if labels is not None and len(labels) != n:
        raise DataError(f"{source}: {len(labels)} labels for {n} rows")
    if not cat_names:  # only constant categorical columns: a numeric table after all
        return Table(X=np.ascontiguousarray(num), columns=num_names, labels=labels,
                     label_column=label_name, dropped_constant=dropped, imputed=imputed,
                     source=source, warnings=warnings_out)
    schema = fit_schema(num, num_names, frame, cat_names)
    X = schema.encode(num, frame)
    return Table(X=X, columns=num_names + cat_names, labels=labels, label_column=label_name,
                 dropped_constant=dropped, imputed=imputed, source=source, warnings=warnings_out,
                 schema=schema, notes=[categorical_note(schema)])


@_one_line_errors
def load_table(path: str | os.PathLike, *, columns: Sequence[str] | None = None,
               drop: Sequence[str] = (), label_column: str | None = None,
               impute: str | None = None, min_rows: int = MIN_ROWS,
               categorical: Sequence[str] = (), numeric: Sequence[str] = ()) -> Table:
    """Load a table file into a validated :class:`Table` (raises DataError). Text, boolean
    and categorical columns become categorical features (``categorical``/``numeric`` name
    columns to force either way); see ``encoding.py``."""
    _check_impute(impute)
    if _is_stream(path):
        with _spooled(path) as (tmp, shown):
            try:
                table = load_table(tmp, columns=columns, drop=drop, label_column=label_column,
                                   impute=impute, min_rows=min_rows, categorical=categorical,
                                   numeric=numeric)
            except DataError as exc:
                raise DataError(str(exc).replace(str(tmp), shown)) from None
        table.source = shown
        table.warnings = [w.replace(str(tmp), shown) for w in table.warnings]
        return table
    p = _check_path(path)
    suffix, gz = _suffixes(p)
    if suffix not in {".parquet", ".pq", ".npy", ".npz"}:
        default_sep = None if suffix in WHITESPACE_SUFFIXES else TEXT_SUFFIXES.get(suffix, ",")
        try:
            if categorical or numeric:
                raise _Fallback  # a column's kind is forced: the pandas route encodes it
            table = _load_delimited(p, gz, default_sep, columns=columns, drop=drop,
                                    label_column=label_column, impute=impute, min_rows=min_rows)
        except (_Fallback, NonNumericError):  # the pandas route (it encodes categorical columns)
            df, labels = read_frame(p)
            table = frame_to_table(df, source=str(path), columns=columns, drop=drop,
                                   label_column=label_column, impute=impute, labels=labels,
                                   min_rows=min_rows, categorical=categorical, numeric=numeric)
        table.source = str(path)
        warning = _numeric_header_warning(p, gz, default_sep)
        if warning:
            table.warnings.insert(0, warning)
        return table
    df, labels = read_frame(p)
    return frame_to_table(df, source=str(path), columns=columns, drop=drop,
                          label_column=label_column, impute=impute, labels=labels,
                          min_rows=min_rows, categorical=categorical, numeric=numeric)


@_one_line_errors
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
    """Write named columns as a CSV with a header, atomically. Integer, boolean and finite
    float64 columns (cluster labels, anomaly scores and flags) are written by the csv module,
    byte for byte what pandas' ``to_csv`` writes for them (both write a float's shortest
    round-trip repr), without importing pandas (a fifth of a second of every ``metaclust
    cluster`` and ``detect``); any other column goes through pandas."""
    from .atomic import atomic_path

    names = list(columns)
    arrays = {k: np.asarray(v) for k, v in columns.items()}

    def plain(a: np.ndarray) -> bool:
        return a.ndim == 1 and (a.dtype.kind in "iub" or (a.dtype == np.float64 and bool(np.isfinite(a).all())))

    with atomic_path(path) as tmp:
        if all(plain(a) for a in arrays.values()) and len({a.size for a in arrays.values()}) <= 1:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(names)
                w.writerows(zip(*(a.tolist() for a in arrays.values())))
        else:
            import pandas as pd

            frame = pd.DataFrame(arrays, columns=names)
            frame.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    return Path(path)
