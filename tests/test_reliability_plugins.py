"""A plugin's code is never trusted in the parent (issue 14, "Plugin output trusted in the parent").

Every piece of code a plugin runs (import, hooks, ``validate``, ``describe``, meta-feature
groups, ``fit_predict``) runs under the guard or is validated in the parent: wrong labels,
a hang outside ``fit_predict``, ``sys.exit``, rich markup in its text and its prints on
stdout each cost one warning or one error line, never the command or its output.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from metaclust_automl import plugins
from metaclust_automl.running import reporting, worker as guard
from metaclust_automl.errors import BackendError, ConfigError
from metaclust_automl.running.backend_runner import BackendRunner, validate_params

from tables import blobs_csv
from test_plugins import fake_distribution

HEADER = """
import sys, time
import numpy as np
from metaclust_automl.backends import Backend
from metaclust_automl.backends.base import ClusterRun
from metaclust_automl.hookspecs import hookimpl
from metaclust_automl.metafeatures.base import MetaFeatureGroup
from metaclust_automl.params import Param

def fixed_run(labels_of):
    def run(self, X, params=None, seed=0, max_fit_rows=None):
        X = np.asarray(X)
        return ClusterRun(labels=labels_of(X), params={}, resolved={}, seconds=0.0, fitted_rows=len(X))
    return run

class Plain(Backend):
    params = (Param("n_clusters", "int", default=2, low=1, high=100, search=False),)
    def cluster(self, X, params, seed):
        return (X[:, 0] > np.median(X[:, 0])).astype(int)
"""

PLUGINS = {
    # labels the parent must refuse
    "bad_labels": """
class Short(Plain):
    name = "short"
    run = fixed_run(lambda X: np.zeros(len(X) - 3, dtype=int))

class NaNs(Plain):
    name = "nans"
    run = fixed_run(lambda X: np.full(len(X), np.nan))

class TwoD(Plain):
    name = "twod"
    run = fixed_run(lambda X: np.zeros((len(X), 2)))

class Floats(Plain):
    name = "floats"
    run = fixed_run(lambda X: (X[:, 0] > np.median(X[:, 0])).astype(float) * 7.0)

@hookimpl
def register_backends(register):
    register(Short()); register(NaNs()); register(TwoD()); register(Floats())
""",
    # code that hangs or exits outside fit_predict
    "hangs": """
class SlowValidate(Plain):
    name = "slowvalidate"
    def validate(self, params=None):
        time.sleep(60)
        return super().validate(params)

class ExitValidate(Plain):
    name = "exitvalidate"
    def validate(self, params=None):
        sys.exit(7)

class ExitFit(Plain):
    name = "exitfit"
    def cluster(self, X, params, seed):
        sys.exit(7)

class Printer(Plain):
    name = "printer"
    def cluster(self, X, params, seed):
        print("NOISE FROM THE PLUGIN")
        os_write = __import__("os").write
        os_write(1, b"RAW NOISE\\n")
        return super().cluster(X, params, seed)

def slow(ctx):
    time.sleep(60)
    return {"x": 1.0}

def exits(ctx):
    sys.exit(3)

@hookimpl
def register_backends(register):
    register(SlowValidate()); register(ExitValidate()); register(ExitFit()); register(Printer())

@hookimpl
def register_metafeatures(register):
    register(MetaFeatureGroup(name="zz_slow", features={"x": "sleeps"}, compute=slow, fallback=0.5))
    register(MetaFeatureGroup(name="zz_exit", features={"y": "exits"}, compute=exits, fallback=0.25))
""",
    # registration problems
    "odd": """
print("PRINTED AT IMPORT")

class BadDescribe(Plain):
    name = "baddescribe"
    def describe(self):
        raise RuntimeError("describe is broken [/red]")

class Nameless(Plain):
    name = ""

class Markup(Plain):
    name = "[/red]"

class Described(Plain):
    name = "described"
    description = "a [/red] description [bold]"

@hookimpl
def register_backends(register):
    print("PRINTED IN A HOOK")
    register(BadDescribe()); register(Nameless()); register(Markup()); register(Described())

@hookimpl
def register_selectors(register):
    raise RuntimeError("selector hook failed [/red]")
""",
    "exit_import": """
sys.exit(7)
""",
    "exit_hook": """
@hookimpl
def register_backends(register):
    sys.exit(9)
""",
}
DISTRIBUTIONS = {name: f"metaclust-{name.replace('_', '-')}" for name in PLUGINS}


def install(site):
    site.mkdir(exist_ok=True)
    for module, body in PLUGINS.items():
        source = HEADER + body if module != "exit_import" else "import sys\n" + body
        (site / f"rel_{module}.py").write_text(textwrap.dedent(source))
        fake_distribution(site, DISTRIBUTIONS[module], {module: f"rel_{module}"})


@pytest.fixture
def installed(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(reporting, "_reported", set())
    plugins.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = plugins.get_registry()
    yield reg
    plugins.reset()
    guard.set_plugin_time_limit(300)


@pytest.fixture
def data(tmp_path):
    return blobs_csv(tmp_path, 150, seed=5)[0]


def one_error(code, err):
    assert code not in (0, None), err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err


# -- labels are checked in the parent ---------------------------------------------------------

@pytest.mark.parametrize("algorithm, why", [("short", r"\(147,\) labels for 150 rows"),
                                            ("nans", "non-integer"), ("twod", r"\(150, 2\) labels")])
def test_bad_plugin_labels_are_refused_in_the_parent(installed, cli, data, tmp_path, algorithm, why):
    out = tmp_path / "labels.csv"
    code, stdout, err = cli("cluster", data, "-a", algorithm, "-o", out)
    one_error(code, err)
    assert not out.exists()
    import re

    assert re.search(why, err), err


def test_float_labels_from_a_plugin_are_normalised(installed, blobs):
    X, _ = blobs
    with BackendRunner(30) as runner:
        run = runner.run("floats", X, {})
    assert run.labels.dtype == np.int64
    assert set(np.unique(run.labels)) == {0, 1}


def test_a_plugin_s_wrong_number_of_labels_is_a_backend_error(installed, blobs):
    X, _ = blobs
    with BackendRunner(30) as runner, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(BackendError, match="labels for 300 rows"):
            runner.run("short", X, {})


# -- code outside fit_predict -------------------------------------------------------------------

def test_validate_that_hangs_stops_at_the_time_limit(installed, cli, data):
    code, _, err = cli("cluster", data, "-a", "slowvalidate", "--time-limit", "1")
    one_error(code, err)
    assert "timed out" in err


def test_validate_that_exits_is_contained(installed):
    with pytest.raises(BackendError, match="exitvalidate.*SystemExit"):
        validate_params("exitvalidate", {}, 10)


def test_plugin_validate_config_error_stays_a_config_error(installed):
    with pytest.raises(ConfigError, match="n_clusters"):
        validate_params("printer", {"n_clusters": "many"}, 10)
    assert validate_params("printer", {"n_clusters": 3}, 10)["n_clusters"] == 3


def test_sys_exit_in_fit_is_one_error(installed, cli, data):
    code, _, err = cli("cluster", data, "-a", "exitfit")
    one_error(code, err)
    assert code != 7


def test_metafeature_groups_that_hang_or_exit_take_their_fallbacks(installed, blobs):
    from metaclust_automl.metafeatures import extract

    X, _ = blobs
    guard.set_plugin_time_limit(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = extract(X)
    assert values["zz_slow.x"] == 0.5
    assert values["zz_exit.y"] == 0.25
    messages = " ".join(str(w.message) for w in caught)
    assert "zz_slow" in messages and "zz_exit" in messages


# -- registration ------------------------------------------------------------------------------

def test_registration_problems_cost_warnings(installed):
    reg = installed
    assert "baddescribe" not in reg.backends and "[/red]" not in reg.backends and "" not in reg.backends
    assert "described" in reg.backends and "kmeans" in reg.backends
    text = " ".join(reg.failures)
    for what in ("describe()", "without a name", "not a plain word", "selector hook failed",
                 "sys.exit(7)", "sys.exit(9)"):
        assert what in text, (what, reg.failures)


def test_plugins_command_survives_markup_and_broken_plugins(installed, cli):
    code, out, err = cli("plugins")
    assert code == 0, err
    assert "described" in out and "kmeans" in out
    assert "[/red]" in err  # shown as text, not read as markup
    assert "Traceback" not in err and "internal error" not in err
    code, out, err = cli("plugins", "--json")
    assert code == 0 and "PRINTED" not in out


def test_other_commands_still_work_with_broken_plugins(installed, cli, data):
    code, out, err = cli("cluster", data, "-a", "kmeans", "--set", "n_clusters=3", "-o", "-")
    assert code == 0, err
    assert out.splitlines()[0] == "label" and len(out.splitlines()) == 151


def test_plugin_prints_never_reach_stdout(tmp_path, data):
    """A real process: the worker's fd 1 is the CLI's stdout unless the guard moves it."""
    site = tmp_path / "site"
    install(site)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", "from metaclust_automl.cli import run; run()",
                           "cluster", str(data), "-a", "printer", "-o", "-"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "label" and len(lines) == 151
    assert all(ln.lstrip("-").isdigit() for ln in lines[1:]), proc.stdout[:500]
    assert "NOISE" in proc.stderr and "PRINTED" in proc.stderr
