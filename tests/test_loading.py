"""The loader: every supported format reads to the same matrix, and every bad input fails
with one actionable line (a DataError), in the library and through the CLI."""
from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd
import pytest

from metaclust_automl.errors import DataError
from metaclust_automl.loading import frame_to_table, load_labels, load_table, read_frame, write_labels_csv

GOOD = np.array([[1.0, 2.0, 3.0], [4.0, 5.5, 6.0], [7.0, 8.0, 10.0], [-1.5, 0.0, 2e-3]])


def write(path, text: str | bytes):
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def csv_text(X=GOOD, header=("a", "b", "c"), sep=",", newline="\n") -> str:
    lines = [sep.join(header)] if header else []
    lines += [sep.join(repr(float(v)) for v in row) for row in X]
    return newline.join(lines) + newline


# -- formats that must read to GOOD ------------------------------------------------

@pytest.mark.parametrize("name,text", [
    ("comma.csv", csv_text()),
    ("semicolon.csv", csv_text(sep=";")),
    ("pipe.csv", csv_text(sep="|")),
    ("tab.tsv", csv_text(sep="\t")),
    ("tab_in.csv", csv_text(sep="\t")),
    ("crlf.csv", csv_text(newline="\r\n")),
    ("bom.csv", "\ufeff" + csv_text()),
    ("noheader.csv", csv_text(header=None)),
    ("bom_noheader.csv", "\ufeff" + csv_text(header=None)),
    ("spaces.csv", csv_text().replace(",", ", ")),
    ("quoted.csv", csv_text().replace("a,b,c", '"a","b","c"')),
    ("whitespace.data", csv_text(header=None, sep="   ")),
    ("whitespace.txt", csv_text(header=None, sep="\t ")),
    ("comma.txt", csv_text()),
    ("noext", csv_text()),
])
def test_text_formats_read_the_same_matrix(tmp_path, name, text):
    table = load_table(write(tmp_path / name, text))
    np.testing.assert_array_equal(table.X, GOOD)
    assert table.X.dtype == np.float64 and table.X.flags.c_contiguous
    assert len(table.columns) == 3


def test_gzip_by_suffix_and_by_magic_bytes(tmp_path):
    data = gzip.compress(csv_text().encode())
    np.testing.assert_array_equal(load_table(write(tmp_path / "t.csv.gz", data)).X, GOOD)
    np.testing.assert_array_equal(load_table(write(tmp_path / "t.csv", data)).X, GOOD)
    np.testing.assert_array_equal(load_table(write(tmp_path / "t.data.gz",
                                                   gzip.compress(b"1 2 3\n4 5.5 6\n7 8 10\n-1.5 0 2e-3\n"))).X, GOOD)


def test_binary_formats(tmp_path):
    np.save(tmp_path / "x.npy", GOOD)
    np.testing.assert_array_equal(load_table(tmp_path / "x.npy").X, GOOD)
    np.savez(tmp_path / "x.npz", X=GOOD, y=np.array([0, 1, 1, 0]))
    t = load_table(tmp_path / "x.npz")
    np.testing.assert_array_equal(t.X, GOOD)
    np.testing.assert_array_equal(t.labels, [0, 1, 1, 0])
    pd.DataFrame(GOOD, columns=list("abc")).to_parquet(tmp_path / "x.parquet")
    t = load_table(tmp_path / "x.parquet")
    np.testing.assert_array_equal(t.X, GOOD)
    assert t.columns == ["a", "b", "c"]


def test_unicode_headers_and_latin1(tmp_path):
    t = load_table(write(tmp_path / "u.csv", csv_text(header=("größe", "日本", "x y"))))
    assert t.columns == ["größe", "日本", "x y"]
    t = load_table(write(tmp_path / "l.csv", csv_text(header=("é", "b", "c")).encode("latin-1")))
    assert t.columns[0] == "é"
    np.testing.assert_array_equal(t.X, GOOD)


def test_duplicate_and_blank_headers_are_made_unique(tmp_path):
    t = load_table(write(tmp_path / "d.csv", csv_text(header=("a", "a", ""))))
    assert t.columns == ["a", "a.1", "Unnamed: 2"]
    np.testing.assert_array_equal(t.X, GOOD)


def test_booleans_are_categorical(tmp_path):
    t = load_table(write(tmp_path / "b.csv", "a,b\n1,true\n2,false\n3,true\n"))
    assert t.schema is not None and t.schema.categorical == ["b"]
    assert t.feature_names == ["a", "b=false", "b=true"]
    np.testing.assert_array_equal(t.X[:, 2], [1, 0, 1])


def test_extreme_and_tiny_numbers(tmp_path):
    t = load_table(write(tmp_path / "e.csv", "a,b\n1e300,1e-300\n-1e300,5e-324\n0,0\n"))
    assert t.X[0, 0] == 1e300 and t.X[1, 1] == 5e-324


def test_text_after_the_first_block_is_found(tmp_path):
    rows = "\n".join(f"{i},{i * 2}" for i in range(300_000))
    path = write(tmp_path / "late.csv", f"a,b\n{rows}\n7,oops\n")
    with pytest.raises(DataError, match=r"non-numeric column 'b' \(e.g. 'oops'\).*--drop b"):
        load_table(path)


def test_columns_drop_and_label_column(tmp_path):
    path = write(tmp_path / "l.csv", "id,x,y,name\n1,0.5,1,a\n2,1.5,0,b\n3,2.5,2,a\n4,0.1,5,c\n")
    t = load_table(path, drop=["id"], label_column="name")
    assert t.columns == ["x", "y"] and list(t.labels) == ["a", "b", "a", "c"]
    t = load_table(path, columns=["1", "y"])
    assert t.columns == ["x", "y"]
    with pytest.raises(DataError, match="--drop names column 'nope'"):
        load_table(path, drop=["nope"])
    with pytest.raises(DataError, match="no feature columns left"):
        load_table(path, columns=["name"], label_column="name")


def test_impute_mean_and_median(tmp_path):
    path = write(tmp_path / "n.csv", "a,b\n1,2\n3,\n5,10\n7,inf\n")
    t = load_table(path, impute="mean")
    assert t.X[1, 1] == pytest.approx(6.0) and t.X[3, 1] == pytest.approx(6.0)
    assert t.imputed == 2 and "imputed 2" in t.warnings[0]
    assert load_table(path, impute="median").X[1, 1] == pytest.approx(6.0)
    with pytest.raises(DataError, match="unknown imputation 'mode'"):
        load_table(path, impute="mode")


def test_constant_and_empty_columns_are_dropped_with_a_warning(tmp_path):
    t = load_table(write(tmp_path / "c.csv", "a,b,c,\n1,2,3,\n4,2,6,\n7,2,9,\n"))
    assert t.columns == ["a", "c"] and t.dropped_constant == ["b"]
    assert any("constant column" in w and "'b'" in w for w in t.warnings)
    assert any("empty column" in w for w in t.warnings)


# -- bad inputs: one clear DataError ---------------------------------------------------

BAD = [
    ("empty.csv", b"", r"is empty"),
    ("blank.csv", b"\n\n  \n", r"is empty"),
    ("header.csv", b"a,b,c\n", r"header but no data rows"),
    ("two.csv", b"a,b\n1,2\n3,4\n", r"has 2 data rows; at least 3"),
    ("one.csv", b"1,2\n", r"has 1 data row; at least 3"),
    ("text.csv", b"a,b,c\n1,x,3\n4,y,6\n7,z,9\n", r"non-numeric column 'b' \(e\.g\. 'x'\).*--drop b"),
    ("texts.csv", b"a,b,c\n1,x,q\n4,y,r\n7,z,s\n", r"non-numeric columns 'b', 'c'.*--drop b --drop c"),
    ("nan.csv", b"a,b\n1,2\n3,nan\n4,5\n6,inf\n", r"2 missing, NaN or infinite values in 2 rows "
                                                     r"\(first: data row 2, column 'b'.*--impute mean"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n", r"a row has 4 fields where the header has 3"),
    ("short.csv", b"a,b,c\n1,2,3\n4,5\n8,9,10\n", r"a row has 2 fields where the header has 3"),
    ("allconst.csv", b"a,b\n1,2\n1,2\n1,2\n", r"every feature column is constant"),
    ("allempty.csv", b"a,b\n,\n,\n,\n", r"no column holds a number"),
    ("junk.csv", bytes(range(256)) * 20, r"looks like a binary file"),
    ("utf16.csv", "a,b\n1,2\n".encode("utf-16"), r"UTF-16"),
    ("bad.gz", b"\x1f\x8bnot really gzip at all", r"cannot read"),
    ("bad.parquet", b"PAR1 nonsense", r"cannot read .* as parquet"),
    ("bad.npy", b"\x93NUMPY nonsense", r"cannot read .* as \.npy"),
    ("bad.npz", b"PK\x03\x04 nonsense", r"cannot read .* as \.npz"),
    ("oneword.csv", b"a b c\n1 2 x\n3 4 y\n5 6 z\n", r"non-numeric"),
    ("wrongdelim.csv", b"a:b:c\n1:2:3\n4:5:6\n7:8:9\n", r"one column: is the delimiter right"),
    ("decimal.csv", b"a;b\n1,5;2\n2,5;3\n3,5;4\n", r"decimal commas"),
]


@pytest.mark.parametrize("name,data,message", BAD, ids=[b[0] for b in BAD])
def test_bad_files_raise_one_clear_line(tmp_path, name, data, message):
    path = write(tmp_path / name, data)
    with pytest.raises(DataError, match=message) as info:
        load_table(path)
    assert "\n" not in str(info.value)
    assert "Traceback" not in str(info.value)


def test_missing_path_directory_and_unreadable(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="file not found"):
        load_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        load_table(tmp_path)
    path = write(tmp_path / "secret.csv", csv_text())
    import metaclust_automl.loading as loading

    monkeypatch.setattr(loading.os, "access", lambda *a, **k: False)  # root reads anything
    with pytest.raises(DataError, match="permission denied"):
        load_table(path)


def test_fast_and_pandas_routes_agree(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)) * 10.0 ** rng.integers(-5, 5, size=(50, 4))
    text = csv_text(X, header=("a", "b", "c", "d"))
    fast = load_table(write(tmp_path / "x.csv", text)).X
    df, _ = read_frame(tmp_path / "x.csv")  # the pandas route
    slow = frame_to_table(df).X
    np.testing.assert_allclose(fast, slow, rtol=1e-15)
    np.testing.assert_allclose(fast, X, rtol=1e-15)


def test_frame_to_table_handles_odd_frames():
    df = pd.DataFrame({"a": [1, 2, 3], "b": pd.array([1, None, 3], dtype="Int64"),
                       "c": [True, False, True], "d": ["1", "2", "3.5"]})
    t = frame_to_table(df.drop(columns="c"), impute="median")
    np.testing.assert_array_equal(t.X, [[1, 1, 1], [2, 2, 2], [3, 3, 3.5]])
    t = frame_to_table(df, impute="median")  # the boolean column is categorical
    assert t.schema.categorical == ["c"] and t.columns == ["a", "b", "d", "c"]
    np.testing.assert_array_equal(t.X[:, 3:], [[0, 1], [1, 0], [0, 1]])
    dup = pd.DataFrame([[1, 2], [3, 5], [4, 4]], columns=["x", "x"])
    assert frame_to_table(dup).columns == ["x", "x.1"]
    dates = pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": pd.date_range("2020-01-01", periods=3)})
    with pytest.raises(DataError, match="non-numeric column 't'"):
        frame_to_table(dates)


def test_labels_and_atomic_label_writing(tmp_path):
    out = tmp_path / "labels.csv"
    write_labels_csv(out, {"label": np.array([0, 1, -1])})
    assert out.read_text() == "label\n0\n1\n-1\n"
    np.testing.assert_array_equal(load_labels(out), [0, 1, -1])
    with pytest.raises(DataError, match="does not exist"):
        write_labels_csv(tmp_path / "missing" / "labels.csv", {"label": np.array([0])})
    assert not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]


# -- the same through the CLI: exit code, one line on stderr, no output file ------------

@pytest.mark.parametrize("name,data,message", BAD, ids=[b[0] for b in BAD])
def test_cli_bad_files(tmp_path, cli, name, data, message):
    path = write(tmp_path / name, data)
    out = tmp_path / "labels.csv"
    code, stdout, stderr = cli("cluster", path, "-a", "kmeans", "--set", "n_clusters=2", "-o", out)
    assert code != 0
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    assert not out.exists()


@pytest.mark.parametrize("case", ["missing", "directory", "outdir", "impute", "drop"])
def test_cli_bad_paths_and_options(tmp_path, cli, case):
    good = write(tmp_path / "good.csv", csv_text())
    out = tmp_path / "labels.csv"
    args = {
        "missing": [tmp_path / "nope.csv", "-o", out],
        "directory": [tmp_path, "-o", out],
        "outdir": [good, "-o", tmp_path / "missing" / "labels.csv"],
        "impute": [good, "--impute", "mode", "-o", out],
        "drop": [good, "--drop", "zzz", "-o", out],
    }[case]
    code, _, stderr = cli("cluster", *args, "-a", "kmeans", "--set", "n_clusters=2")
    assert code != 0
    assert len([ln for ln in stderr.splitlines() if ln.strip()]) == 1, stderr
    assert not out.exists() and not (tmp_path / "missing").exists()


def test_cli_good_file_writes_labels(tmp_path, cli):
    path = write(tmp_path / "good.csv", csv_text())
    out = tmp_path / "labels.csv"
    code, _, stderr = cli("cluster", path, "-a", "kmeans", "--set", "n_clusters=2", "-o", out)
    assert code == 0, stderr
    labels = pd.read_csv(out)["label"].to_numpy()
    assert labels.shape == (4,) and set(labels) == {0, 1}


# -- check_matrix: in-memory input ----------------------------------------------------------

def test_check_matrix_accepts_and_refuses():
    from scipy import sparse

    from metaclust_automl.validation import check_matrix

    X = np.random.default_rng(0).normal(size=(100_000, 3))
    assert check_matrix(X) is X  # no copy of a clean float64 table
    assert check_matrix([[1, 2], [3, 4], [5, 6]]).dtype == np.float64
    X[70_000, 1] = np.nan
    X[80_000, 2] = np.inf
    with pytest.raises(DataError, match=r"2 NaN or infinite values in 2 rows \(first at row 70000\)"):
        check_matrix(X)
    bad = [
        (sparse.csr_matrix(np.eye(3)), "sparse matrix"),
        (np.ones((3, 2)) * 1j, "complex"),
        ([["a", "b"], ["c", "d"], ["e", "f"]], "not numeric"),
        (np.ones((3, 0)), "no columns"),
        (np.ones((2, 2)), "has 2 rows"),
        (np.ones((3, 2, 2)), "2-D"),
    ]
    for value, message in bad:
        with pytest.raises(DataError, match=message):
            check_matrix(value)


def test_whitespace_text_single_spaced_and_irregular(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))  # 225 kB: more than the 64 kB head the sniffer reads
    np.savetxt(tmp_path / "x.data", X)  # one space between fields: the streaming route
    np.testing.assert_array_equal(load_table(tmp_path / "x.data").X, X)
    text = (tmp_path / "x.data").read_text().splitlines()
    text[2900] = text[2900].replace(" ", "   ", 1)  # irregular spacing late in the file
    (tmp_path / "y.data").write_text("\n".join(text) + "\n")
    np.testing.assert_array_equal(load_table(tmp_path / "y.data").X, X)
