"""Issue 18: what a newcomer meets first -- help text, output layout, option names,
start-up cost, the label column and a knowledge base ready to use after meta-training."""
from __future__ import annotations

import subprocess
import sys


def test_listing_plugins_imports_no_heavy_library() -> None:
    """`metaclust plugins` registers every built-in without importing scikit-learn,
    pandas or torch (each costs seconds on a busy machine)."""
    code = ("import sys; from metaclust_automl.cli import main; main(['plugins', '--json']); "
            "print(sorted(m for m in ('sklearn', 'pandas', 'torch', 'optuna', 'matplotlib') if m in sys.modules),"
            " file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().splitlines()[-1] == "[]"


import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tables import blobs_csv
from tinykb_dir import tiny_kb_dir

COMMANDS = ("cluster", "recommend", "detect", "metafeatures", "plugins", "example", "meta-train", "evaluate",
            "train-selectors")
TYPE_MARKERS = re.compile(r"<(bool|str|int|float|list\[[^\]]*\]|int range|float range|path)>|\{[a-z_]+\}")


def _piped(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    """The command as `COLUMNS=80 metaclust ... | cat` runs it: a fresh process, no terminal."""
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run([sys.executable, "-m", "metaclust_automl", *map(str, args)], capture_output=True,
                          text=True, env=env, check=False)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """Three blobs with their labels in a column named 'label' (as `example --with-labels`)."""
    d = tmp_path_factory.mktemp("labelled")
    path, X, y = blobs_csv(d, 240, seed=3)
    out = d / "with_label.csv"
    np.savetxt(out, np.column_stack([X, y]), delimiter=",", header="a,b,label", comments="", fmt="%.6g")
    return out, X, y


@pytest.mark.parametrize("command", COMMANDS)
def test_no_help_shows_type_markers(cli, command) -> None:
    code, out, _ = cli(command, "--help")
    assert code == 0
    assert not TYPE_MARKERS.search(out), TYPE_MARKERS.search(out).group(0)
    assert "--out " not in out  # the old spelling of -o/--output is accepted, not advertised


def test_plugins_piped_at_80_columns_shows_every_value_whole() -> None:
    proc = _piped("plugins")
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    described = json.loads(_piped("plugins", "--json").stdout)
    for b in described["backends"]:
        assert b["name"] in proc.stdout
        for p in b["parameters"]:
            assert p["name"] in proc.stdout
            for choice in p.get("choices") or ():
                assert str(choice) in proc.stdout


def test_recommend_piped_at_80_columns_shows_every_value_whole(labelled) -> None:
    path, _, _ = labelled
    proc = _piped("recommend", path, "--kb", tiny_kb_dir(), "--selector", "knn", "--top", "4")
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    recs = json.loads(_piped("recommend", path, "--kb", tiny_kb_dir(), "--selector", "knn", "--top", "4",
                             "--json").stdout)
    for r in recs:
        for key, value in r["resolved"].items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            assert f"{key}={shown}" in proc.stdout
    # the reason is said under the table, not repeated in a narrow column
    assert proc.stdout.count("why") >= 1 and "reason" not in proc.stdout.splitlines()[2]


def test_a_label_column_is_never_a_feature_and_clustering_is_scored_against_it(cli, labelled) -> None:
    path, _, y = labelled
    code, out, err = cli("cluster", path, "-a", "kmeans", "--set", "n_clusters=3", "--json")
    assert code == 0, err
    assert "column 'label' holds reference labels and is not used as a feature" in err
    assert len(err.strip().splitlines()) == 1  # said in one line
    payload = json.loads(out)
    scores = payload["scores"]
    assert scores["rows"] == 240 and set(scores) >= {"ari", "nmi", "acc"}
    assert 0.5 < scores["ari"] <= 1.0 and 0.0 <= scores["nmi"] <= 1.0 and 0.0 <= scores["acc"] <= 1.0
    code, out, _ = cli("cluster", path, "-a", "kmeans", "--set", "n_clusters=3", "--json", "--label-column", "none")
    assert code == 0 and "scores" not in json.loads(out)
    code, out, _ = cli("detect", path, "--json")
    assert code == 0 and json.loads(out)["n_columns"] == 2
    code, out, _ = cli("metafeatures", path, "--json")
    assert code == 0


def test_text_report_of_cluster_with_labels_and_output(cli, labelled, tmp_path) -> None:
    path, _, _ = labelled
    code, out, err = cli("cluster", path, "-a", "kmeans", "--set", "n_clusters=3", "-o", tmp_path / "l.csv")
    assert code == 0, err
    assert f"wrote 240 labels to {tmp_path / 'l.csv'}" in " ".join(err.split())
    assert re.search(r"against column 'label' \(240 labelled rows\): ARI \d\.\d{3}, NMI \d\.\d{3}, ACC \d\.\d{3}",
                     out)
    assert re.search(r"^3 clusters, 0 noise rows, \d+\.\d\d s$", out, flags=re.M)  # one line, never wrapped


def test_gmm_takes_n_clusters_as_the_common_name_for_k(cli, labelled) -> None:
    path, _, _ = labelled
    code, out, err = cli("cluster", path, "-a", "gmm", "--set", "n_clusters=2", "--json")
    assert code == 0, err
    assert json.loads(out)["n_clusters"] == 2 and json.loads(out)["params"]["n_components"] == 2
    code, _, err = cli("cluster", path, "-a", "gmm", "--set", "n_clusters=2", "--set", "n_components=3")
    assert code != 0 and "not both" in err


def test_cluster_lists_its_budget_probes(cli, labelled) -> None:
    path, _, _ = labelled
    code, out, err = cli("cluster", path, "--kb", tiny_kb_dir(), "--selector", "knn", "--budget", "2", "--json")
    assert code == 0, err
    assert len(json.loads(out)["probes"]) == 2
    code, _, err = cli("cluster", path, "--kb", tiny_kb_dir(), "--selector", "knn", "--budget", "2")
    assert code == 0 and "ran 2 configurations on 240 rows before choosing" in err


def test_plot_shows_the_space_the_configuration_clustered_in(cli, labelled, tmp_path) -> None:
    from metaclust_automl.cli.cluster_cmd import clustered_space

    _, X, _ = labelled
    Z = clustered_space(X * 1000.0, "kmeans", {"n_clusters": 3, "preprocess": "standard"})
    assert np.allclose(Z.mean(axis=0), 0.0, atol=1e-9) and np.allclose(Z.std(axis=0), 1.0, atol=1e-6)
    assert np.allclose(clustered_space(X, "kmeans", {"n_clusters": 3}), X)  # default preprocessing: none
    path, _, _ = labelled
    png = tmp_path / "p.png"
    code, _, err = cli("cluster", path, "-a", "dbscan", "--set", "preprocess=standard", "--plot", png)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_list_options_take_repeats_and_commas_alike(cli, labelled) -> None:
    path, _, _ = labelled
    one = cli("metafeatures", path, "--columns", "a,b", "--json")
    two = cli("metafeatures", path, "--columns", "a", "--columns", "b", "--json")
    assert one[0] == two[0] == 0 and json.loads(one[1]) == json.loads(two[1])


def test_train_selectors_writes_where_recommend_reads(cli, tmp_path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(tiny_kb_dir(), kb, ignore=shutil.ignore_patterns("selectors"))
    code, out, err = cli("train-selectors", "--kb", kb, "--selectors", "knn", "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)[0]["path"] == str(kb / "selectors" / "knn")
    from metaclust_automl.knowledge_base import KnowledgeBase
    from metaclust_automl.recommend import load_selector

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refit would warn
        sel = load_selector("knn", KnowledgeBase.load(kb))
    assert sel.name == "knn"
    code, _, err = cli("train-selectors", "--kb", kb, "-o", tmp_path / "w", "--selectors", "knn")
    assert code == 0 and (tmp_path / "w" / "knn").is_dir()
    assert "--selectors-dir" in err  # how to use weights stored elsewhere
    code, out, err = cli("recommend", tmp_path / "nope.csv", "--kb", kb, "--selectors-dir", tmp_path / "w")
    assert code != 0 and "nope.csv" in err


def test_meta_train_help_names_the_backends_it_searches() -> None:
    from metaclust_automl.cli.metatrain_cmd import DEFAULT_BACKENDS_TEXT
    from metaclust_automl.training.kb import DEFAULT_BACKENDS

    assert DEFAULT_BACKENDS_TEXT == ", ".join(DEFAULT_BACKENDS)


def test_readme_lists_every_option_of_every_command() -> None:
    """One table in the README names every option of every command (the same names everywhere)."""
    import typer

    from metaclust_automl.cli import app

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Every command's options"):]
    table = table[:table.index("\n\n", table.index("| option |"))]
    missing = []
    for name, command in typer.main.get_command(app).commands.items():
        for p in command.params:
            if p.param_type_name != "option" or getattr(p, "hidden", False) or p.name == "help":
                continue
            longest = max(p.opts, key=len)
            if f"`{longest}" not in table and f"/{longest}" not in table and f", `{longest}" not in table:
                missing.append(f"{name} {longest}")
    assert not missing, missing
