"""``metaclust train ...``: one group for every artefact builder, with the old entry points kept."""
from __future__ import annotations

import pytest

from tinykb_dir import tiny_kb_dir


def test_train_selectors_is_train_selectors(cli, tmp_path):
    kb = tiny_kb_dir()
    code, out, err = cli("train", "selectors", "--kb", kb, "--out", tmp_path / "new", "--selector", "knn", "--json")
    assert code == 0, err
    code, _, err = cli("train-selectors", "--kb", kb, "--out", tmp_path / "old", "--selector", "knn", "--json")
    assert code == 0, err
    assert (tmp_path / "new" / "knn" / "selector.json").read_bytes() == (tmp_path / "old" / "knn" / "selector.json").read_bytes()


def test_train_kb_has_meta_train_s_options(cli):
    code, out, _ = cli("train", "kb", "--help")
    assert code == 0
    for option in ("--out", "--trials", "--storage", "--jobs", "--seed", "--progress"):
        assert option in out


@pytest.mark.parametrize("command, module, attr, extra, want", [
    ("prototype-rule", "metaclust_automl.training.prototype_rule", "train_rule", ["--iters", "3", "--pairs", "2"],
     {"iters": 3, "pairs": 2, "seed": 7, "method": "es", "progress": False}),
    ("anomaly-policy", "metaclust_automl.training.anomaly_policy", "train", ["-o", "POLICY", "--steps", "5"],
     {"steps": 5, "seed": 7, "progress": False}),
])
def test_train_commands_pass_their_options_to_the_trainers(cli, monkeypatch, command, module, attr, extra, want):
    import importlib
    import types

    seen: list[tuple[tuple, dict]] = []

    def fake(*args, **kwargs):
        seen.append((args, kwargs))
        return ("rule.safetensors", {}) if attr == "train_rule" else types.SimpleNamespace(info={})

    monkeypatch.setattr(importlib.import_module(module), attr, fake)
    code, _, err = cli("train", command, *extra, "--seed", "7", "--no-progress")
    assert code == 0, err
    (args, kwargs), = seen
    assert all(kwargs[k] == v for k, v in want.items()), kwargs
    assert kwargs["command"].startswith(f"metaclust train {command} ") and "--seed 7" in kwargs["command"]
    if command == "anomaly-policy":
        assert args == ("POLICY",)


def test_the_old_out_spelling_still_names_the_output(cli, monkeypatch):
    import types

    from metaclust_automl.training import anomaly_policy

    seen: list[tuple] = []
    monkeypatch.setattr(anomaly_policy, "train", lambda *a, **k: seen.append(a) or types.SimpleNamespace(info={}))
    code, _, err = cli("train", "anomaly-policy", "--out", "DIR", "--no-progress")
    assert code == 0, err
    assert seen == [("DIR",)]


def test_a_bad_output_is_one_line_and_non_zero(cli, tmp_path):
    code, _, err = cli("train", "anomaly-policy", "-o", tmp_path / "missing" / "policy", "--no-progress")
    assert code != 0 and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()
    code, _, err = cli("train", "anomaly-policy", "--no-progress")
    assert code != 0 and "-o/--output" in err


@pytest.mark.parametrize("module, command", [("metaclust_automl.backends.prototype_meta", "prototype-rule"),
                                             ("metaclust_automl.anomaly.train", "anomaly-policy")])
def test_old_module_entry_points_run_the_train_commands(module, command, cli):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _, want, _ = cli("train", command, "--help")
    assert "--seed" in done.stdout and "--output" in done.stdout
    assert done.stdout.split("Options")[1].split() == want.split("Options")[1].split()


def test_train_without_a_command_shows_the_four(cli):
    code, out, err = cli("train")
    text = out + err
    for name in ("kb", "selectors", "prototype-rule", "anomaly-policy", "confidence"):
        assert name in text


def test_train_confidence_is_calibrate_confidence(cli, tmp_path):
    kb = tiny_kb_dir()
    code, _, err = cli("train", "confidence", "--kb", kb, "-o", tmp_path / "new.json", "--json")
    assert code == 0, err
    code, _, err = cli("calibrate-confidence", "--kb", kb, "--out", tmp_path / "old.json", "--json")
    assert code == 0, err
    assert (tmp_path / "new.json").read_bytes() == (tmp_path / "old.json").read_bytes()
