"""The registry: built-ins arrive through the hooks, entry points are discovered, and a
broken plugin costs one warning naming it, not the registry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from metaclust_automl import plugins
from metaclust_automl.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "plugins" / "metaclust-kmedoids"


def fake_distribution(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Install a distribution the way pip leaves one on disk: a .dist-info directory with
    metadata and entry points, which importlib.metadata finds on sys.path."""
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[metaclust]\n{lines}\n")


@pytest.fixture
def fresh_registry():
    plugins.reset()
    yield
    plugins.reset()


def test_builtin_backends_come_through_the_hooks(fresh_registry):
    reg = plugins.get_registry()
    for name in ("kmeans", "dbscan", "hdbscan", "agglomerative", "gmm", "birch", "spectral", "optics",
                 "meanshift"):
        assert name in reg.backends
        assert reg.source("backend", name) == "metaclust-automl"
    pm = plugins.get_plugin_manager()
    assert "metaclust_automl.default_plugins.backends" in {pm.get_name(p) for p in pm.get_plugins()}


def test_unknown_backend_lists_known_ones(fresh_registry):
    with pytest.raises(ConfigError, match="known algorithms: .*kmeans"):
        plugins.get_registry().backend("no-such-algorithm")


def test_broken_plugins_are_skipped_with_one_warning(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "broken_on_import.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "broken_in_hook.py").write_text(textwrap.dedent("""
        from metaclust_automl.hookspecs import hookimpl

        @hookimpl
        def register_backends(register):
            raise ValueError('boom in hook')
    """))
    fake_distribution(tmp_path, "broken-import", {"bad1": "broken_on_import"})
    fake_distribution(tmp_path, "broken-hook", {"bad2": "broken_in_hook"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = plugins.get_registry()
        plugins.get_registry()  # a second look warns no more
    messages = [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)]
    assert len(messages) == 2
    assert any("broken-import" in m and "boom at import" in m for m in messages)
    assert any("broken-hook" in m and "boom in hook" in m for m in messages)
    assert "kmeans" in reg.backends  # the rest keeps working
    assert len(reg.failures) == 2


def test_duplicate_backend_name_is_ignored_with_a_warning(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "dup_plugin.py").write_text(textwrap.dedent("""
        from metaclust_automl.backends.partitional import KMeansBackend
        from metaclust_automl.hookspecs import hookimpl

        @hookimpl
        def register_backends(register):
            register(KMeansBackend())
    """))
    fake_distribution(tmp_path, "dup-dist", {"dup": "dup_plugin"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(plugins.PluginWarning, match="already registered"):
        reg = plugins.get_registry()
    assert reg.source("backend", "kmeans") == "metaclust-automl"


def test_installed_example_plugin_is_discovered_and_runs_through_the_cli(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "metaclust-kmedoids", {"kmedoids": "metaclust_kmedoids"})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(EXAMPLE), str(REPO)]))
    run = lambda *a: subprocess.run([sys.executable, "-m", "metaclust_automl", *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, cwd=tmp_path, timeout=120)
    listed = run("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    backends = [b for b in json.loads(listed.stdout)["backends"] if b["name"] == "kmedoids"]
    assert len(backends) == 1
    assert backends[0]["package"] == "metaclust-kmedoids"
    assert "n_clusters" in [p["name"] for p in backends[0]["parameters"]]

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.3, size=(40, 2)) for c in (0, 5, 10)])
    np.savetxt(tmp_path / "data.csv", X, delimiter=",", header="a,b", comments="")
    done = run("cluster", "data.csv", "-a", "kmedoids", "--set", "n_clusters=3", "-o", "labels.csv")
    assert done.returncode == 0, done.stderr
    labels = (tmp_path / "labels.csv").read_text().split()
    assert labels[0] == "label" and len(labels) == 121
    assert len(set(labels[1:])) == 3
