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
    ("prototype-rule", "metaclust_automl.backends.prototype_meta", "main", ["--iters", "3", "--pairs", "2"],
     {"--iters": "3", "--pairs": "2", "--seed": "7", "--method": "es"}),
    ("anomaly-policy", "metaclust_automl.anomaly.train", "main", ["--out", "POLICY", "--steps", "5"],
     {"--out": "POLICY", "--steps": "5", "--seed": "7"}),
])
def test_train_commands_pass_their_options_to_the_module_entry_points(cli, monkeypatch, command, module, attr,
                                                                      extra, want):
    import importlib

    seen: list[list[str]] = []
    monkeypatch.setattr(importlib.import_module(module), attr, lambda argv: seen.append(argv) or 0)
    code, _, err = cli("train", command, *extra, "--seed", "7")
    assert code == 0, err
    argv = seen[0]
    got = dict(zip(argv[::2], argv[1::2]))
    assert all(got[k] == v for k, v in want.items()), got


def test_a_failing_builder_exits_non_zero(cli, monkeypatch):
    from metaclust_automl.anomaly import train

    monkeypatch.setattr(train, "main", lambda argv: 2)
    code, _, err = cli("train", "anomaly-policy", "--out", "x")
    assert code != 0 and "exit code 2" in err and "Traceback" not in err


def test_train_without_a_command_shows_the_four(cli):
    code, out, err = cli("train")
    text = out + err
    for name in ("kb", "selectors", "prototype-rule", "anomaly-policy"):
        assert name in text
