"""Fuzzing the loader with hypothesis: whatever the bytes, ``load_table`` returns a valid
table or raises a one-line DataError, never another exception and never a hang; and
numeric tables written in any CSV dialect read back to the numbers that were written."""
from __future__ import annotations

import contextlib
import csv
import gzip
import io
import math
import signal
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaclust_automl.errors import DataError
from metaclust_automl.loading import NA_TOKENS, Table, load_table

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SUFFIXES = [".csv", ".tsv", ".txt", ".data", "", ".csv.gz", ".dat"]
NA_LOWER = {t.lower() for t in NA_TOKENS}


@contextlib.contextmanager
def deadline(seconds: float = 20.0):
    """Turn a hang into a failure (the loader must never block on odd input)."""
    def boom(signum, frame):  # noqa: ANN001
        raise TimeoutError(f"the loader took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def load_or_error(data: bytes, suffix: str, **options) -> Table | DataError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"t{suffix}"
        path.write_bytes(gzip.compress(data, mtime=0) if suffix.endswith(".gz") else data)
        with deadline():
            try:
                return load_table(path, **options)
            except DataError as exc:
                return exc


def assert_valid(result: Table | DataError) -> None:
    if isinstance(result, DataError):
        message = str(result)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        assert "Traceback" not in message
        return
    X = result.X
    assert isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2
    assert X.shape[0] >= 3 and X.shape[1] >= 1 and X.flags.c_contiguous
    assert np.isfinite(X).all()
    assert len(result.columns) == X.shape[1] == len(set(result.columns))
    assert np.all(X.max(axis=0) > X.min(axis=0))  # constant columns were dropped


# -- arbitrary bytes ---------------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(data, suffix):
    assert_valid(load_or_error(data, suffix))


@FUZZ
@given(data=st.data(), suffix=st.sampled_from(SUFFIXES))
def test_mutated_valid_csv(data, suffix):
    good = bytearray(b"a,b,c\n1.5,2,3\n4,5.25,6\n7,8,9e3\n-1,0,1\n")
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(good)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = data.draw(st.integers(0, 255))
        if action == "insert":
            good.insert(pos, byte)
        elif pos < len(good):
            if action == "delete":
                del good[pos]
            else:
                good[pos] = byte
    assert_valid(load_or_error(bytes(good), suffix))


# -- random cells in random CSV dialects --------------------------------------------------

WEIRD_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e-300, max_value=1e-300).map(repr),
    st.sampled_from(["1e400", "-1e400", "1e-400", "9" * 40, "-0", "+5", ".5", "5.", "0x1F", "1,5",
                     "1_000", "TRUE", "false", "inf", "-Infinity", "NaN"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(list(NA_TOKENS)),
    WEIRD_TEXT,
)
DELIMITERS = st.sampled_from([",", ";", "\t", "|", " "])
QUOTING = st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])


def render(rows, header, delimiter, quoting, bom, crlf) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, quoting=quoting,
                        lineterminator="\r\n" if crlf else "\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


@FUZZ
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=0, max_size=12),
       header=st.none() | st.lists(WEIRD_TEXT, min_size=1, max_size=5),
       delimiter=DELIMITERS, quoting=QUOTING, bom=st.booleans(), crlf=st.booleans(),
       suffix=st.sampled_from(SUFFIXES), impute=st.sampled_from([None, "mean", "median"]))
def test_random_cells_in_random_dialects(rows, header, delimiter, quoting, bom, crlf, suffix, impute):
    data = render(rows, header, delimiter, quoting, bom, crlf)
    assert_valid(load_or_error(data, suffix, impute=impute))


def _plain_name(name: str) -> bool:
    low = name.lower()
    if low in NA_LOWER:
        return False
    try:
        float(name)
        return False
    except ValueError:
        return True


NAME = st.text(alphabet=st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1,
               max_size=8).filter(_plain_name)
NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-6, max_value=1e-6, allow_nan=False),
    st.integers(min_value=-(10**15), max_value=10**15),
)


@FUZZ
@given(data=st.data(), delimiter=DELIMITERS, quoting=QUOTING, bom=st.booleans(),
       crlf=st.booleans(), with_header=st.booleans(),
       suffix=st.sampled_from([".csv", ".txt", ".data", "", ".csv.gz", ".tsv"]))
def test_numbers_in_any_dialect_read_back_exactly(data, delimiter, quoting, bom, crlf,
                                                  with_header, suffix):
    d = data.draw(st.integers(1, 5))
    n = data.draw(st.integers(3, 25))
    values = [[data.draw(NUMBER) for _ in range(d)] for _ in range(n)]
    header = data.draw(st.lists(NAME, min_size=d, max_size=d)) if with_header else None
    text_rows = [[repr(float(v)) if isinstance(v, float) else str(v) for v in row] for row in values]
    result = load_or_error(render(text_rows, header, delimiter, quoting, bom, crlf), suffix)
    expected = np.array(values, dtype=np.float64)
    varying = expected.max(axis=0) > expected.min(axis=0)
    if not varying.any():
        assert isinstance(result, DataError) and "constant" in str(result)
        return
    assert isinstance(result, Table), f"{result}"
    np.testing.assert_allclose(result.X, expected[:, varying], rtol=1e-15, atol=1e-300)
    if header is not None:
        assert len(result.columns) == int(varying.sum())


@FUZZ
@given(X=st.lists(st.lists(st.floats(width=64), min_size=2, max_size=2), min_size=3, max_size=10),
       fmt=st.sampled_from(["npy", "npz", "parquet"]))
def test_binary_formats_with_any_floats(X, fmt):
    arr = np.array(X, dtype=np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"t.{fmt}"
        if fmt == "npy":
            np.save(path, arr)
        elif fmt == "npz":
            np.savez(path, X=arr)
        else:
            import pandas as pd

            pd.DataFrame(arr, columns=["a", "b"]).to_parquet(path)
        with deadline():
            try:
                result = load_table(path, impute="median")
            except DataError as exc:
                result = exc
    assert_valid(result)
    if isinstance(result, Table):
        finite = np.isfinite(arr)
        keep = [j for j in range(2) if finite[:, j].any()
                and not math.isclose(np.nanmax(np.where(finite[:, j], arr[:, j], np.nan)),
                                     np.nanmin(np.where(finite[:, j], arr[:, j], np.nan)), rel_tol=0)]
        assert result.X.shape == (arr.shape[0], len(keep))
