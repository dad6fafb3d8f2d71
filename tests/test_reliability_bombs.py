"""Resource bombs are refused quickly, from what the file declares (issue 14, "Resource bombs").

A tiny ``.npy`` whose header claims a huge shape, a gzip that inflates far beyond memory, a
single-line gzip: each is refused with one line before anything of the declared size is
built. Declared sizes are checked against the bytes the file holds and a memory budget
(``METACLUST_TABLE_MEMORY`` makes the budget small enough to test with small files), and
text is stream-counted before it is materialised.
"""
from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaclust_automl.errors import DataError
from metaclust_automl.loading import load_table


def npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def test_npy_header_claiming_a_huge_shape(tmp_path, cli):
    path = tmp_path / "bomb.npy"
    path.write_bytes(npy_header((10**6, 10**6)) + b"\0" * 64)
    assert path.stat().st_size == 192
    with pytest.raises(DataError, match="header declares 8000.0 GB.*truncated"):
        load_table(path)
    code, out, err = cli("cluster", path, "-a", "kmeans")
    assert code == 2 and err.startswith("error:") and "MemoryError" not in err


def test_npy_over_the_budget(tmp_path, monkeypatch):
    path = tmp_path / "big.npy"
    np.save(path, np.random.default_rng(0).normal(size=(500, 4)))
    assert load_table(path).X.shape == (500, 4)
    monkeypatch.setenv("METACLUST_TABLE_MEMORY", "4K")
    with pytest.raises(DataError, match="would need 16.0 kB .* more than the 4.1 kB allowed"):
        load_table(path)


def test_npz_member_declaring_more_than_it_holds(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", npy_header((10**5, 10**5)) + b"\0" * 100)
    with pytest.raises(DataError, match="member X.npy declares .* truncated or damaged"):
        load_table(path)


def test_npz_over_the_budget(tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    np.savez_compressed(path, X=np.zeros((2000, 8)) + np.arange(8))
    monkeypatch.setenv("METACLUST_TABLE_MEMORY", "10K")
    with pytest.raises(DataError, match="its arrays would need"):
        load_table(path)


def test_single_line_gzip(tmp_path):
    path = tmp_path / "line.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        for _ in range(20):
            fh.write(b"1" * (1 << 20))
    with pytest.raises(DataError, match="first line is longer than 16 MB"):
        load_table(path)


def gz_csv(path, rows: int, members: int = 1) -> None:
    """A CSV of ``rows`` rows of zeros, gzipped as ``members`` concatenated members."""
    chunk = b"0,1,0,1\n" * 4096
    with open(path, "wb") as raw:
        for m in range(members):
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as fh:
                if m == 0:
                    fh.write(b"a,b,c,d\n")
                if m == members - 1 and members > 1:
                    fh.write(b"0,1,0,1\n")  # a tiny last member: its trailer declares 8 bytes
                else:
                    for _ in range(rows // 4096):
                        fh.write(chunk)


def test_gzip_whose_trailer_declares_too_much(tmp_path, monkeypatch):
    path = tmp_path / "big.csv.gz"
    gz_csv(path, 400_000)
    monkeypatch.setenv("METACLUST_TABLE_MEMORY", "2M")
    with pytest.raises(DataError, match="about 39.,... rows x 4 columns would need"):
        load_table(path)


def test_gzip_bomb_is_stream_counted(tmp_path, monkeypatch):
    """The trailer of a multi-member gzip names only its last member: reading stops at the budget."""
    path = tmp_path / "members.csv.gz"
    gz_csv(path, 400_000, members=2)
    monkeypatch.setenv("METACLUST_TABLE_MEMORY", "2M")
    with pytest.raises(DataError, match="more than [0-9,]+ rows x 4 columns would need"):
        load_table(path)
    monkeypatch.setenv("METACLUST_TABLE_MEMORY", "200M")  # within the budget the same file is read
    with pytest.raises(DataError, match="every feature column is constant"):
        load_table(path)


def test_text_for_pandas_is_counted_before_parsing(tmp_path, monkeypatch):
    """Irregular whitespace text goes to pandas, which holds the text several times over."""
    path = tmp_path / "irregular.txt.gz"
    with gzip.open(path, "wb") as fh:
        for i in range(50_000):
            fh.write(b"1  2 3\n" if i % 2 else b"1 2  3\n")
    monkeypatch.setenv("METACLUST_TABLE_MEMORY", "300K")
    with pytest.raises(DataError, match="decompressed text would need"):
        load_table(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(0, 10**7), min_size=1, max_size=3), payload=st.integers(0, 4096),
       descr=st.sampled_from(["<f8", "<i4", "|u1", "<f4"]))
def test_any_npy_header_loads_or_is_refused(tmp_path, shape, payload, descr):
    path = tmp_path / "h.npy"
    path.write_bytes(npy_header(shape, descr) + b"\1" * payload)
    try:
        table = load_table(path)
    except DataError:
        return
    assert np.all(np.isfinite(table.X))
