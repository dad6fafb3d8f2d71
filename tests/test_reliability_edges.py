"""Edge cases of issue 14 ("Edges"): each is a clean one-line error or the right result.

(``detect`` on a very wide table belongs to the anomaly work and is tested there.)
"""
from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaclust_automl.errors import DataError
from metaclust_automl.loading import load_table
from metaclust_automl.training.kb.storage import open_storage
from metaclust_automl.validation import check_matrix

from tables import blobs_csv


@pytest.fixture
def data(tmp_path):
    return blobs_csv(tmp_path, 120, seed=2)[0]


def one_line_error(code, err, expect_code=2):
    assert code == expect_code, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "internal error" not in err


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32, max_value=2**80)))
def test_out_of_range_seeds(cli, data, seed):
    code, _, err = cli("cluster", data, "-a", "kmeans", "--seed", str(seed))
    assert code != 0
    one_line_error(code, err)


def test_largest_seed_works(cli, data):
    code, _, err = cli("cluster", data, "-a", "kmeans", "--set", "n_clusters=3", "--seed", str(2**32 - 1))
    assert code == 0, err


@pytest.mark.parametrize("value", ["1e400", "-1e400", "inf", "nan", "9" * 500])
def test_overflowing_parameter_values(cli, data, value):
    code, _, err = cli("cluster", data, "-a", "kmeans", "--set", f"n_clusters={value}")
    one_line_error(code, err)
    assert "n_clusters" in err


def test_tiny_magnitudes_are_refused_not_merged(tmp_path, cli):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (60, 2)), rng.normal(10, 0.1, (60, 2))]) * 1e-310
    path = tmp_path / "tiny.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    code, _, err = cli("cluster", path, "-a", "kmeans", "--set", "n_clusters=2")
    one_line_error(code, err)
    assert "underflow" in err and "rescale" in err
    code, _, err = cli("cluster", path)
    one_line_error(code, err)
    # rescaled as the message says, the two groups come apart again
    from metaclust_automl.plugins import get_registry

    run = get_registry().backend("kmeans").run(X * 1e300, {"n_clusters": 2}, seed=0)
    assert len(set(run.labels[:60])) == 1 and run.labels[0] != run.labels[-1]


def test_small_but_normal_values_still_pass():
    X = np.random.default_rng(0).normal(size=(20, 2)) * 1e-100
    assert check_matrix(X) is not None
    with pytest.raises(DataError, match="underflow"):
        check_matrix(X * 1e-60)


def test_numeric_header_gets_a_warning(tmp_path):
    path = tmp_path / "numbered.csv"
    rows = np.random.default_rng(1).normal(size=(30, 3))
    path.write_text("1,2,3\n" + "\n".join(",".join(f"{v:.3f}" for v in r) for r in rows) + "\n")
    table = load_table(path)
    assert table.X.shape == (31, 3)
    assert any("read as a data row" in w for w in table.warnings)
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(",".join(f"{v:.3f}" for v in r) for r in rows) + "\n")
    assert not any("data row" in w for w in load_table(plain).warnings)


@pytest.mark.parametrize("cell, words", [("1,234,567", "thousands separators"),
                                         ("12,345.5", "thousands separators"),
                                         ("1,234", "thousands separator or a decimal comma"),
                                         ("3,14159", "decimal commas")])
def test_comma_hints(tmp_path, cell, words):
    path = tmp_path / "commas.csv"
    path.write_text("a;b\n" + "\n".join(f"{cell};{i}" for i in range(10)) + "\n")
    with pytest.raises(DataError, match=words):
        load_table(path)


def test_storage_that_is_a_users_file(tmp_path, cli):
    notes = tmp_path / "notes.log"
    notes.write_text("my notes\n")
    with pytest.raises(DataError, match="not an Optuna journal"):
        open_storage(str(notes))
    code, _, err = cli("meta-train", "--limit", "2", "--trials", "1", "--out", tmp_path / "kb", "--storage", notes)
    one_line_error(code, err)
    assert notes.read_text() == "my notes\n"
    other = tmp_path / "notes.txt"
    other.write_text("not a database")
    with pytest.raises(DataError, match="not a SQLite database"):
        open_storage(str(other))
    assert other.read_text() == "not a database"


def test_damaged_sqlite_storage(tmp_path):
    path = tmp_path / "mt.db"
    con = sqlite3.connect(path)
    con.execute("create table t (a)")
    con.executemany("insert into t values (?)", [("x" * 500,)] * 2000)
    con.commit()
    con.close()
    with open(path, "r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(b"\xff" * 4096)
    with pytest.raises(DataError, match="malformed|damaged"):
        open_storage(str(path))


def test_corpus_file_without_its_label_column_is_named(tmp_path, cli):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    blobs_csv(corpus, 40, seed=0)
    code, _, err = cli("meta-train", corpus, "--out", tmp_path / "kb", "--trials", "1")
    one_line_error(code, err)
    assert "blobs.csv" in err and "label column" in err


def run_cli(args, stdin: bytes):
    return subprocess.run([sys.executable, "-c", "from metaclust_automl.cli import run; run()", *args],
                          input=stdin, capture_output=True, timeout=300)


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_piped_stdin_is_read(data, name):
    proc = run_cli(["cluster", name, "-a", "kmeans", "--set", "n_clusters=3", "-o", "-"], data.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "label" and len(lines) == 121


def test_gzipped_stdin_is_read(data):
    proc = run_cli(["cluster", "-", "-a", "kmeans", "--set", "n_clusters=3", "-o", "-"], gzip.compress(data.read_bytes()))
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.decode().splitlines()) == 121


def test_empty_stdin_says_so():
    proc = run_cli(["cluster", "-", "-a", "kmeans"], b"")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "error: standard input is empty: nothing was piped in"


def test_a_reader_that_goes_away_gets_no_false_plugin_message():
    """`metaclust --help | head -1`: rich exits 1 on the broken pipe; that is not a plugin's exit."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "metaclust_automl", "--help"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "plugin stopped" not in err
    assert "Traceback" not in err
