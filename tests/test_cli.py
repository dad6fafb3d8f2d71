"""The command line: version, plugin listing, running one backend, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from metaclust_automl import __version__


@pytest.fixture
def csv_file(tmp_path, blobs):
    X, _ = blobs
    path = tmp_path / "data.csv"
    np.savetxt(path, X, delimiter=",", header="x,y,z", comments="")
    return path


def test_version_and_help(cli):
    code, out, _ = cli("--version")
    assert code == 0 and __version__ in out
    code, out, _ = cli("--help")
    assert code == 0 and "cluster" in out and "plugins" in out


def test_plugins_json_lists_core_backends_with_spaces(cli):
    code, out, _ = cli("plugins", "--json")
    assert code == 0
    data = json.loads(out)
    by_name = {b["name"]: b for b in data["backends"]}
    for name in ("kmeans", "dbscan", "hdbscan", "agglomerative", "gmm"):
        searched = [p for p in by_name[name]["parameters"] if p["searched"]]
        assert searched, name
        assert any(p["name"] == "preprocess" for p in searched)
    eps = {p["name"]: p for p in by_name["dbscan"]["parameters"]}["eps_quantile"]
    assert eps["search_range"][0] > 0 and eps["search_range"][1] < 1


def test_plugins_table(cli):
    code, out, _ = cli("plugins")
    assert code == 0 and "kmeans" in out and "metaclust-automl" in out


def test_cluster_writes_one_label_per_row(cli, csv_file, tmp_path):
    out_path = tmp_path / "labels.csv"
    code, out, err = cli("cluster", csv_file, "-a", "kmeans", "--set", "n_clusters=3", "--seed", "1",
                         "-o", out_path)
    assert code == 0, err
    lines = out_path.read_text().splitlines()
    assert lines[0] == "label" and len(lines) == 301
    assert sorted(set(lines[1:])) == ["0", "1", "2"]
    assert "3 clusters" in out


def test_cluster_json_and_noise(cli, csv_file, tmp_path):
    code, out, err = cli("cluster", csv_file, "-a", "dbscan", "--set", "eps_quantile=0.2",
                         "--set", "min_samples=10", "--json", "-o", tmp_path / "l.csv")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["algorithm"] == "dbscan" and payload["n_rows"] == 300
    assert payload["resolved"]["eps"] > 0
    labels = np.loadtxt(tmp_path / "l.csv", skiprows=1)
    assert (labels == -1).sum() == payload["noise"]


def test_same_seed_same_labels(cli, csv_file, tmp_path):
    for name in ("a.csv", "b.csv"):
        assert cli("cluster", csv_file, "-a", "gmm", "--set", "n_components=3", "--seed", "7",
                   "-o", tmp_path / name)[0] == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


BAD = [
    ("empty", "", "is empty"),
    ("header_only", "a,b,c\n", "no data rows"),
    ("two_rows", "a,b\n1,2\n3,4\n", "at least 3"),
    ("text_column", "a,city\n1,Paris\n2,Rome\n3,Oslo\n4,Bonn\n", "non-numeric column 'city'.*--drop city"),
    ("nan", "a,b\n1,2\n3,nan\n5,6\n7,8\n", "1 missing, NaN or infinite value.*row 2.*--impute"),
    ("all_constant", "a,b\n1,2\n1,2\n1,2\n1,2\n", "constant"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_tables_give_one_line_and_no_output(cli, tmp_path, name, text, message):
    import re

    data = _write(tmp_path, f"{name}.csv", text)
    out_path = tmp_path / "labels.csv"
    code, _, err = cli("cluster", data, "-a", "kmeans", "--set", "n_clusters=2", "-o", out_path)
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not out_path.exists()
    assert not list(tmp_path.glob(".labels.csv*"))  # no temporary left behind


@pytest.mark.parametrize("args,message", [
    (["-a", "nope"], "unknown algorithm 'nope'"),
    (["-a", "kmeans", "--set", "k=3"], "unknown parameter 'k'.*n_clusters"),
    (["-a", "kmeans", "--set", "n_clusters=0"], "out of range"),
    (["-a", "kmeans", "--set", "n_clusters=two"], "not a valid int"),
    (["-a", "dbscan", "--set", "eps_quantile=1.5"], "out of range"),
    (["-a", "hdbscan", "--set", "min_cluster_size=5", "--set", "min_cluster_size_frac=0.1"], "either"),
    (["-a", "kmeans", "--set", "novalue"], "key=value"),
])
def test_bad_parameters(cli, csv_file, tmp_path, args, message):
    import re

    code, _, err = cli("cluster", csv_file, *args, "-o", tmp_path / "l.csv")
    assert code == 2 and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "l.csv").exists()


def test_missing_input_and_output_directory(cli, csv_file, tmp_path):
    code, _, err = cli("cluster", tmp_path / "nope.csv", "-a", "kmeans")
    assert code != 0 and "not found" in err
    code, _, err = cli("cluster", csv_file, "-a", "kmeans", "-o", tmp_path / "missing" / "l.csv")
    assert code != 0 and "does not exist" in err


def test_impute_and_constant_column_warning(cli, tmp_path):
    rows = "\n".join(f"{i % 7},{(i * 3) % 11},5" for i in range(30))
    data = _write(tmp_path, "d.csv", "a,b,c\n" + rows + "\n1,,5\n")
    code, _, err = cli("cluster", data, "-a", "kmeans", "--set", "n_clusters=2", "--impute", "median",
                       "-o", tmp_path / "l.csv")
    assert code == 0, err
    assert "dropped 1 constant column: 'c'" in err and "imputed 1" in err
    assert len((tmp_path / "l.csv").read_text().splitlines()) == 32


def test_example_command_writes_a_table_the_loader_reads(cli, tmp_path):
    from metaclust_automl.loading import load_table

    path = tmp_path / "ex.csv"
    code, _, err = cli("example", path, "--kind", "moons", "-n", "200", "--with-labels")
    assert code == 0, err
    table = load_table(path, label_column="label")
    assert table.X.shape == (200, 2) and sorted(set(table.labels)) == [0, 1]
    code, _, err = cli("example", path, "--kind", "spirals")
    assert code == 2 and "unknown example kind" in err
