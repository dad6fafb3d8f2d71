"""Outputs never destroy inputs, and problems with an output are found before any work.

Issue 14, "Data loss", "Ctrl-C" and "Checks after the work": an output that is an input
(or two outputs that are one path) is refused, `meta-train --out` takes only a new or empty
directory or a knowledge base, every output location is checked first, Ctrl-C exits 130
with one line, and a path holding control characters is never printed raw.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaclust_automl import atomic
from metaclust_automl.atomic import check_distinct, check_output_dir, check_output_path
from metaclust_automl.errors import DataError
from metaclust_automl.training.kb.build import check_kb_output

from tables import blobs_csv
from tinykb_dir import tiny_kb_dir


@pytest.fixture
def data(tmp_path):
    return blobs_csv(tmp_path, 120, seed=3)[0]


def one_error_line(err: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error:"), err
    assert "Traceback" not in err and "internal error" not in err, err


@pytest.mark.parametrize("command", [["cluster", "-a", "kmeans"], ["detect", "--detector", "iforest",
                                                                   "--contamination", "0.1"]])
def test_output_that_is_the_input_is_refused(cli, data, command):
    before = data.read_bytes()
    code, out, err = cli(command[0], data, *command[1:], "-o", data)
    assert code == 2
    one_error_line(err)
    assert "replace your data" in err
    assert data.read_bytes() == before


def test_output_through_a_link_to_the_input_is_refused(cli, data, tmp_path):
    before = data.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    for target in (link, hard):
        code, _, err = cli("cluster", data, "-a", "kmeans", "-o", target)
        assert code == 2, err
        one_error_line(err)
    assert data.read_bytes() == before


def test_two_outputs_one_path_are_refused(cli, data, tmp_path):
    out = tmp_path / "f.out"
    code, _, err = cli("cluster", data, "-a", "kmeans", "-o", out, "--plot", out)
    assert code == 2
    one_error_line(err)
    assert "same path" in err
    assert not out.exists()


def test_labels_input_is_not_an_output(cli, data, tmp_path):
    labels = tmp_path / "known.csv"
    labels.write_text("label\n" + "\n".join(["-1"] * 120) + "\n")
    before = labels.read_bytes()
    code, _, err = cli("cluster", data, "--labels", labels, "-o", labels)
    assert code == 2
    one_error_line(err)
    assert labels.read_bytes() == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spelling=st.sampled_from(["{name}", "./{name}", "{dir}/{name}", "{dir}/./{name}", "sub/../{name}"]))
def test_check_distinct_sees_through_spellings(tmp_path, spelling):
    (tmp_path / "sub").mkdir(exist_ok=True)
    (tmp_path / "in.csv").write_text("x\n1\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(DataError, match="replace your data"):
            check_distinct({"-o": spelling.format(name="in.csv", dir=tmp_path)}, {"DATA": "in.csv"})
        check_distinct({"-o": "other.csv"}, {"DATA": "in.csv"})  # different files pass
        check_distinct({"-o": "-"}, {"DATA": "-"})  # stdout and stdin are not files
    finally:
        os.chdir(cwd)


# -- meta-train --out --------------------------------------------------------------------

def test_meta_train_refuses_a_directory_that_is_not_a_knowledge_base(cli, tmp_path, data):
    mine = tmp_path / "mydir"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    code, _, err = cli("meta-train", data, "--out", mine, "--trials", "1")
    assert code == 2
    one_error_line(err)
    assert "would delete" in err
    assert (mine / "notes.txt").read_text() == "precious"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_meta_train_out_dot_is_refused_before_any_work(cli, tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import metaclust_automl.corpus as corpus

    monkeypatch.setattr(corpus, "load_corpus", lambda *a, **k: pytest.fail("the corpus was read"))
    code, _, err = cli("meta-train", data, "--out", ".")
    assert code == 2
    one_error_line(err)
    assert data.exists()


def test_meta_train_out_accepts_new_empty_and_knowledge_base(tmp_path):
    assert check_kb_output(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_kb_output(tmp_path / "empty")
    check_kb_output(tiny_kb_dir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="it is a file"):
        check_kb_output(tmp_path / "file")
    with pytest.raises(DataError, match="does not exist"):
        check_kb_output(tmp_path / "missing" / "kb")


# -- output locations are checked first ----------------------------------------------------

def test_evaluate_out_file_fails_before_the_corpus_is_read(cli, tmp_path, monkeypatch):
    import metaclust_automl.corpus as corpus

    monkeypatch.setattr(corpus, "load_corpus", lambda *a, **k: pytest.fail("the corpus was read"))
    target = tmp_path / "report.txt"
    target.write_text("keep")
    code, _, err = cli("evaluate", tmp_path, "--out", target, "--baselines")
    assert code == 2
    one_error_line(err)
    assert "is a file" in err
    assert target.read_text() == "keep"


def test_read_only_output_directory_fails_first(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(DataError, match="not writable.*Read-only"):
        check_output_path(tmp_path / "labels.csv")
    with pytest.raises(DataError, match="not writable"):
        check_output_dir(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_by_permissions(cli, data, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = cli("cluster", data, "-a", "kmeans", "-o", ro / "x.csv")
        assert code == 2
        one_error_line(err)
    finally:
        ro.chmod(0o755)


def test_read_only_output_is_found_before_loading(cli, data, tmp_path, monkeypatch):
    import metaclust_automl.loading as loading

    monkeypatch.setattr(atomic.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(OSError(30, "ro")))
    monkeypatch.setattr(loading, "load_table", lambda *a, **k: pytest.fail("the table was read"))
    code, _, err = cli("cluster", data, "-a", "kmeans", "-o", tmp_path / "x.csv")
    assert code == 2
    one_error_line(err)


@pytest.mark.parametrize("bad", ["a\nb.csv", "x\x1b[31mred.csv", "t\tab.csv"])
def test_control_characters_in_an_output_path_are_never_printed_raw(cli, data, tmp_path, bad):
    code, out, err = cli("cluster", data, "-a", "kmeans", "-o", tmp_path / bad)
    assert code == 2
    assert "\x1b" not in err and "\t" not in err
    assert len([ln for ln in err.splitlines() if ln.strip()]) == 1
    assert not (tmp_path / bad).exists()


# -- Ctrl-C ----------------------------------------------------------------------------------

SLOW_MAIN = textwrap.dedent("""
    import sys, time
    import metaclust_automl.loading as loading

    def slow(*args, **kwargs):
        print("READY", file=sys.stderr, flush=True)
        time.sleep(60)

    loading.load_table = slow
    from metaclust_automl.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_ctrl_c_exits_130_with_one_line_and_no_output(tmp_path, data):
    out = tmp_path / "labels.csv"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_MAIN, "cluster", str(data), "-a", "kmeans", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent)
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline and "READY" not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
    assert "READY" in line, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip() == "error: interrupted", stderr
    assert stdout == ""
    assert not out.exists()


def test_interrupt_inside_a_command_is_130(cli, data, monkeypatch):
    import metaclust_automl.loading as loading

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loading, "load_table", interrupted)
    code, out, err = cli("cluster", data, "-a", "kmeans")
    assert code == 130
    assert err.strip() == "error: interrupted"
    assert out == ""


def test_ctrl_c_in_meta_train_exits_130_and_a_rerun_resumes(tmp_path):
    """Interrupted mid-search, meta-train leaves its storage as a SIGKILL would: the rerun
    keeps every finished trial and writes the knowledge base."""
    import json

    out = tmp_path / "kb"
    args = [sys.executable, "-c", "from metaclust_automl.cli import run; run()", "meta-train", "--limit", "2",
            "--backends", "kmeans", "--sampler", "qmc", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen([*args, "--trials", "400"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "kb.work" / "optuna.db"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if db.exists() and _finished(db) >= 3:
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in stderr
    assert not out.exists()
    done = _finished(db)
    assert done >= 3
    rerun = subprocess.run([*args, "--trials", "2"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads((out / "manifest.json").read_text())["info"]["build"]["counts"]["search"]
    assert counts["already_finished"] > 0


def _finished(db: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_train_selectors_never_replaces_a_foreign_directory(cli, tmp_path):
    mine = tmp_path / "weights" / "knn"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("precious")
    code, _, err = cli("train-selectors", "--kb", tiny_kb_dir(), "--out", tmp_path / "weights", "--selector", "knn")
    assert code == 2
    one_error_line(err)
    assert (mine / "notes.txt").read_text() == "precious"
    code, _, err = cli("train-selectors", "--kb", tiny_kb_dir(), "--out", tmp_path / "new", "--selector", "knn")
    assert code == 0, err
    assert (tmp_path / "new" / "knn" / "selector.json").is_file()
