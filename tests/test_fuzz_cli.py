"""Fuzzing the command line: whatever the file and whatever the options, ``metaclust
cluster`` either succeeds and writes one label per row, or exits non-zero with one
``error:`` line on stderr, no traceback and no output file."""
from __future__ import annotations

import csv
import faulthandler
import io
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaclust_automl.loading import NA_TOKENS

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
ROOT = Path(__file__).resolve().parents[1]

CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.sampled_from(["1e400", "1e-400", "", "?", "NA", "x", "true", "1,5", "é", "日本"]),
    st.sampled_from(list(NA_TOKENS)),
    st.text(max_size=6),
)
ALGORITHMS = st.sampled_from(["kmeans", "dbscan", "hdbscan", "agglomerative", "gmm", "birch"])


def render(rows, header, delimiter, bom, crlf) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


def alarm(seconds: float):
    def boom(signum, frame):  # noqa: ANN001
        raise TimeoutError(f"the command took more than {seconds} s")

    signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def outcome_problems(code: int, stderr: str, out: Path, n_rows: int | None = None) -> list[str]:
    """What is wrong with one command's outcome (empty when it is a valid result or a clean
    one-line error)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    problems = []
    if "Traceback" in stderr or "internal error" in stderr:
        problems.append("traceback or internal error")
    if code == 0:
        labels = out.read_text().splitlines() if out.exists() else []
        if any(ln.startswith("error") for ln in lines):
            problems.append("error line despite exit 0")
        if not labels or labels[0] != "label":
            problems.append("no labels file with a 'label' header")
        elif not all(lab.lstrip("-").isdigit() for lab in labels[1:]):
            problems.append("a label that is not an integer")
        elif n_rows is not None and len(labels) - 1 != n_rows:
            problems.append(f"{len(labels) - 1} labels for {n_rows} rows")
    else:
        errors = [ln for ln in lines if ln.startswith("error:")]
        if len(errors) != 1 or lines[-1] != errors[0]:
            problems.append("not exactly one error line, last")
        if not all(ln.startswith(("warning:", "error:", "note:")) for ln in lines):
            problems.append("stderr lines other than warnings, notes and the error")
        if out.exists():
            problems.append("an output file after an error")
    return problems


def test_outcome_problems_catch_bad_outcomes(tmp_path):
    out = tmp_path / "labels.csv"
    assert outcome_problems(1, "Traceback (most recent call last):\nValueError: x", out)
    assert outcome_problems(1, "error: one\nerror: two", out)
    out.write_text("label\n0\n1\n")
    assert outcome_problems(2, "error: bad input", out)  # an error must leave no file
    assert outcome_problems(0, "", out, n_rows=3)  # a row without a label
    assert not outcome_problems(0, "warning: constant column dropped", out, n_rows=2)
    out.unlink()
    assert not outcome_problems(2, "warning: w\nerror: bad input", out)


def run_cli(cli, *args) -> tuple[int, str, str]:
    alarm(60)  # a hang in Python code fails the test ...
    faulthandler.dump_traceback_later(180, exit=True, file=sys.__stderr__)  # ... a C hang ends the run
    try:
        return cli(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()


@FUZZ
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=10),
       header=st.none() | st.lists(st.text(max_size=6), min_size=1, max_size=4),
       delimiter=st.sampled_from([",", ";", "\t", "|", " "]), bom=st.booleans(), crlf=st.booleans(),
       suffix=st.sampled_from([".csv", ".tsv", ".txt", ""]), algorithm=ALGORITHMS,
       impute=st.sampled_from([None, "mean", "median", "mode"]))
def test_cli_on_random_tables(cli, rows, header, delimiter, bom, crlf, suffix, algorithm, impute):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{suffix}"
        path.write_bytes(render(rows, header, delimiter, bom, crlf))
        out = Path(tmp) / "labels.csv"
        args = ["cluster", path, "-a", algorithm, "-o", out]
        if impute:
            args += ["--impute", impute]
        code, stdout, stderr = run_cli(cli, *args)
        problems = outcome_problems(code, stderr, out)
        assert not problems, (problems, stderr)


@FUZZ
@given(data=st.binary(max_size=2000), algorithm=ALGORITHMS)
def test_cli_on_random_bytes(cli, data, algorithm):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        path.write_bytes(data)
        out = Path(tmp) / "labels.csv"
        code, stdout, stderr = run_cli(cli, "cluster", path, "-a", algorithm, "-o", out)
        problems = outcome_problems(code, stderr, out)
        assert not problems, (problems, stderr)


EXTREME = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.sampled_from([0.0, 1.0, -1.0, 1e308, -1e308, 5e-324, 1e-10]),
)


@FUZZ
@given(data=st.data(), algorithm=ALGORITHMS,
       preprocess=st.sampled_from(["none", "standard", "robust", "minmax", "pca_whiten"]))
def test_cli_on_extreme_numbers(cli, data, algorithm, preprocess):
    n, d = data.draw(st.integers(3, 30)), data.draw(st.integers(1, 4))
    rows = [[repr(data.draw(EXTREME)) for _ in range(d)] for _ in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        path.write_bytes(render(rows, [f"c{j}" for j in range(d)], ",", False, False))
        out = Path(tmp) / "labels.csv"
        code, stdout, stderr = run_cli(cli, "cluster", path, "-a", algorithm, "-o", out,
                                       "--set", f"preprocess={preprocess}")
        problems = outcome_problems(code, stderr, out, n_rows=n if code == 0 else None)
        assert not problems, (problems, stderr)


GOOD = b"a,b,c\n1,2,3\n4,5,6.5\n7,8,9\n10,1,2\n3,3,3.5\n"


@FUZZ
@given(algorithm=st.one_of(ALGORITHMS, st.text(max_size=10)),
       sets=st.lists(st.tuples(st.sampled_from(["n_clusters", "eps_quantile", "min_samples",
                                                "preprocess", "linkage", "n_components", "eps"])
                               | st.text(max_size=8), st.text(max_size=8)), max_size=3),
       drop=st.lists(st.sampled_from(["a", "b", "c", "0", "7"]) | st.text(max_size=4), max_size=2),
       seed=st.integers(min_value=0, max_value=2**31))
def test_cli_with_random_options(cli, algorithm, sets, drop, seed):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        path.write_bytes(GOOD)
        out = Path(tmp) / "labels.csv"
        args = ["cluster", path, "-a", algorithm, "-o", out, "--seed", str(seed)]
        for key, value in sets:
            args += ["--set", f"{key}={value}"]
        for name in drop:
            args += ["--drop", name]
        code, stdout, stderr = run_cli(cli, *args)
        problems = outcome_problems(code, stderr, out, n_rows=5)
        assert not problems, (problems, stderr)


# -- a few real processes: the exit status and stderr a shell sees ------------------------

@pytest.mark.parametrize("content,suffix", [
    (bytes(range(256)) * 8, ".csv"),
    (b"a,b,[/x]\n1,2,3\n4,5,6,7\n8,9,10\n", ".csv"),
])
def test_subprocess_bad_inputs(tmp_path, content, suffix):
    path = tmp_path / f"in{suffix}"
    path.write_bytes(content)
    out = tmp_path / "labels.csv"
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    env.pop("METACLUST_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "metaclust_automl", "cluster", str(path),
                           "-a", "kmeans", "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
