"""What `metaclust cluster` imports: genieclust without matplotlib, scikit-learn
without pandas and the SciPy subpackages it never calls, labels written without pandas
(backends/deferred_import.py, loading.py), and that nothing a user imports afterwards sees
a stand-in."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from metaclust_automl.backends.deferred_import import DeferredModule, deferring


def _python(code: str, cwd: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter; its last stdout line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          check=False, cwd=cwd, env={"MPLBACKEND": "Agg", **_env()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}


def _blobs(path: Path, n: int = 150) -> Path:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.3, size=(n // 3, 2)) for c in ((0, 0), (4, 0), (0, 4))])
    np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.6g")
    return path


def test_genie_clusters_without_pyplot_and_pyplot_is_real_afterwards() -> None:
    out = _python("""
        import json, sys, numpy as np
        from metaclust_automl.plugins import get_registry
        X = np.vstack([np.random.default_rng(0).normal(c, 0.2, size=(60, 2)) for c in (0, 3, 6)])
        run = get_registry().backend("genie").run(X, {"n_clusters": 3}, seed=0)
        before = ["matplotlib" in sys.modules, "matplotlib.pyplot" in sys.modules]
        import deadwood, genieclust
        red = deadwood.plots.matplotlib.colors.to_hex((1.0, 0.0, 0.0))  # not a hex string: the real one
        import matplotlib.pyplot as plt
        print(json.dumps([int(np.unique(run.labels).size), before, red, type(plt).__name__,
                          hasattr(plt, "figure"), deadwood.plots.plt.figure is plt.figure,
                          "matplotlib.pyplot" in sys.modules]))
    """)
    assert json.loads(out) == [3, [False, False], "#ff0000", "module", True, True, True]


def test_deadwood_palette_and_plots_unchanged_by_the_deferral(tmp_path: Path) -> None:
    """deadwood's palette is built from the same colormaps, and genieclust's plot helper
    (which needs the real pyplot) still draws."""
    deferred = _python(f"""
        import json
        from metaclust_automl.backends.deferred_import import import_genieclust
        g = import_genieclust()
        import deadwood, numpy as np
        colors = list(deadwood.plots.colors)
        X = np.random.default_rng(0).normal(size=(30, 2))
        g.plots.plot_scatter(X, labels=np.zeros(30, dtype=int))
        import matplotlib.pyplot as plt
        plt.savefig({str(tmp_path / "p.png")!r})
        print(json.dumps(colors))
    """)
    eager = _python("import json, deadwood; print(json.dumps(list(deadwood.plots.colors)))")
    assert json.loads(deferred) == json.loads(eager)
    assert (tmp_path / "p.png").stat().st_size > 0


def _loaded_after_cli(argv: list[str], modules: tuple[str, ...]) -> list[bool]:
    """Run ``metaclust ARGV`` in a fresh interpreter; which of ``modules`` it had imported."""
    return json.loads(_python(f"""
        import sys, json
        from metaclust_automl.cli import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        print(json.dumps([m in sys.modules for m in {list(modules)!r}]))
    """))


def test_cluster_writes_labels_without_pandas_matplotlib_scipy_optimize_or_f2py(tmp_path: Path) -> None:
    """The plot-free path of `metaclust cluster` on a CSV (default options, and genie by name)
    imports neither pandas, matplotlib, scipy.optimize nor numpy.f2py; the labels file is
    complete."""
    table = _blobs(tmp_path / "t.csv")
    for extra in ([], ["-a", "genie"]):
        out = tmp_path / f"labels{len(extra)}.csv"
        argv = ["cluster", str(table), "-o", str(out), "--no-progress", *extra]
        loaded = _loaded_after_cli(argv, ("pandas", "matplotlib", "scipy.optimize", "numpy.f2py"))
        assert loaded == [False, False, False, False], extra
        lines = out.read_text().splitlines()
        assert lines[0] == "label" and len(lines) == 151


def test_detect_writes_scores_without_pandas_or_scipy_stats(tmp_path: Path) -> None:
    """`metaclust detect` imports neither pandas nor scipy.stats (the anomaly estimator
    imports scikit-learn through ``import_sklearn``); the scores file is complete."""
    table = _blobs(tmp_path / "t.csv")
    out = tmp_path / "scores.csv"
    argv = ["detect", str(table), "-o", str(out), "--no-progress"]
    assert _loaded_after_cli(argv, ("pandas", "scipy.stats")) == [False, False]
    lines = out.read_text().splitlines()
    assert lines[0] == "score,is_anomaly" and len(lines) == 151


def test_cluster_with_genie_still_plots(tmp_path: Path) -> None:
    table = _blobs(tmp_path / "t.csv")
    png = tmp_path / "p.png"
    proc = subprocess.run([sys.executable, "-m", "metaclust_automl", "cluster", str(table), "-a", "genie",
                           "--set", "n_clusters=3", "--plot", str(png), "--no-progress"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_deferring_stands_in_then_imports_the_real_module(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "slowmod_i16t.py").write_text("LOADED = True\nPALETTE = ['real']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("slowmod_i16t", None)
    with deferring("slowmod_i16t", {"PALETTE": lambda: ["stand-in"]}):
        import slowmod_i16t as m

        assert isinstance(m, DeferredModule)
        assert m.PALETTE == ["stand-in"]  # answered without importing
        assert isinstance(sys.modules["slowmod_i16t"], DeferredModule)
    assert "slowmod_i16t" not in sys.modules  # the stand-in is gone: a later import is real
    assert m.LOADED is True  # any other name imports the real module and forwards
    real = sys.modules["slowmod_i16t"]
    assert not isinstance(real, DeferredModule) and real.PALETTE == ["real"]
    assert m.PALETTE == ["real"]  # once it is imported, the stand-in forwards everything
    sys.modules.pop("slowmod_i16t", None)


def test_deferring_leaves_an_imported_module_alone() -> None:
    import json as real

    with deferring("json", {}):
        import json
    assert json is real and sys.modules["json"] is real


def test_labels_csv_matches_pandas_bytes(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    from metaclust_automl.loading import write_labels_csv

    cases = [{"label": np.array([0, 1, -1, 2])},
             {"a,b": np.array([1, 2], dtype=np.int32), 'q"x': np.array([3, 4], dtype=np.uint8)},
             {"label": np.array([], dtype=np.int64)},
             {"score": np.array([0.5, 1.25]), "is_anomaly": np.array([True, False])},
             # floats the csv module writes: shortest round-trip reprs, like pandas
             {"score": np.array([0.0, -0.0, 1 / 3, 1e16, 1e-5, 5e-324, 1.7976931348623157e308,
                                 123456789.123, -2.5e-12]), "is_anomaly": np.arange(9) % 2},
             # NaN and float32 go through pandas (it writes NaN as an empty field)
             {"score": np.array([0.5, np.nan])}, {"score": np.array([0.1, 0.2], dtype=np.float32)}]
    for cols in cases:
        write_labels_csv(tmp_path / "a.csv", cols)
        pd.DataFrame(cols, columns=list(cols)).to_csv(tmp_path / "b.csv", index=False, lineterminator="\n",
                                                      encoding="utf-8")
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes(), cols


def test_arrow_float_columns_read_like_to_numpy() -> None:
    """The loader reads float columns from arrow's buffers (no pandas): the same values as
    pyarrow's ``to_numpy``, NaN where missing, on sliced arrays too."""
    pa = pytest.importorskip("pyarrow")
    from metaclust_automl.loading import _float_values

    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        arr = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.3, type=pa.float64())
        start = int(rng.integers(0, n))
        part = arr.slice(start, int(rng.integers(0, n - start + 1)))
        assert _float_values(part, pa).tobytes() == part.to_numpy(zero_copy_only=False).tobytes()
    flags = pa.array([True, None, False]).cast(pa.float64())
    np.testing.assert_array_equal(_float_values(flags, pa), [1.0, np.nan, 0.0])


def test_sklearn_imported_without_scipy_stats_which_still_works_when_used() -> None:
    """After a table's thread limits (which import sklearn.cluster), scipy.stats is not
    imported; the names scikit-learn took from it work (and import it), and a later
    ``import scipy.stats`` is the real module."""
    out = _python("""
        import json, sys, numpy as np
        from metaclust_automl.threads import table_threads
        table_threads(100, 2)
        import sklearn.cluster, sklearn.metrics._ranking as r
        before = ["scipy.stats" in sys.modules, "pandas" in sys.modules, type(r.rankdata).__name__]
        ranks = r.rankdata([3.0, 1.0, 2.0]).tolist()
        from sklearn.covariance import MinCovDet
        X = np.random.default_rng(0).normal(size=(80, 2))
        MinCovDet(random_state=0).fit(X)  # calls chi2(...).isf at run time
        import scipy.stats
        print(json.dumps(before + [ranks, type(scipy.stats).__name__, hasattr(scipy.stats, "norm"),
                                   sys.modules["scipy.stats"] is scipy.stats]))
    """)
    assert json.loads(out) == [False, False, "LazyAttribute", [3.0, 1.0, 2.0], "module", True, True]


def test_sklearn_imported_without_scipy_optimize_integrate_interpolate_which_still_work() -> None:
    """The SciPy subpackages of ``SCIPY_DEFERRED`` wait too; what scikit-learn took from
    them (names and whole modules) works when called, and later imports get real modules."""
    out = _python("""
        import json, sys, numpy as np
        from metaclust_automl.threads import table_threads
        from metaclust_automl.backends.deferred_import import SCIPY_DEFERRED
        table_threads(100, 2)
        import sklearn.linear_model._logistic as logistic
        before = [name in sys.modules for name in SCIPY_DEFERRED]
        from sklearn.metrics import auc, consensus_score
        from sklearn.linear_model import LogisticRegression
        X = np.random.default_rng(0).normal(size=(60, 2))
        y = (X[:, 0] > 0).astype(int)
        fitted = LogisticRegression().fit(X, y).score(X, y) > 0.9  # calls optimize.minimize
        area = auc([0.0, 1.0], [0.0, 1.0])  # calls trapezoid
        rows = np.array([[True, False], [False, True]])
        score = consensus_score((rows, rows), (rows, rows))  # calls linear_sum_assignment
        import scipy.optimize, scipy.interpolate
        print(json.dumps([before, fitted, area, score, type(logistic.optimize).__name__,
                          sys.modules["scipy.optimize"] is scipy.optimize,
                          hasattr(scipy.interpolate, "BSpline")]))
    """)
    assert json.loads(out) == [[False, False, False], True, 0.5, 1.0, "DeferredModule", True, True]


def test_a_deferred_package_still_imports_its_submodules(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    pkg = tmp_path / "slowpkg_i16t"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .core import f\nINIT = True\n")
    # a submodule that imports its siblings both ways while the package is a stand-in
    (pkg / "core.py").write_text("from . import helper\nfrom .helper import one\n"
                                 "def f(x):\n    return x + one\n")
    (pkg / "helper.py").write_text("one = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with deferring("slowpkg_i16t", lazy=("f",)):
        from slowpkg_i16t import f  # a stand-in: nothing imported yet
        assert "slowpkg_i16t.core" not in sys.modules
        from slowpkg_i16t.core import f as g  # a submodule imports through the real __path__
        assert "INIT" not in sys.modules["slowpkg_i16t"].__dict__  # the package's __init__ waits
    assert g(1) == 2 and f(1) == 2
    assert sys.modules["slowpkg_i16t"].INIT is True
    for name in ("slowpkg_i16t", "slowpkg_i16t.core", "slowpkg_i16t.helper"):
        sys.modules.pop(name, None)


def test_array_api_shims_keep_a_working_f2py() -> None:
    """SciPy's and scikit-learn's copies of numpy's namespace, made while numpy.f2py was
    deferred, hold a stand-in that imports the real module when used."""
    out = _python("""
        import json, sys
        from metaclust_automl.threads import table_threads
        table_threads(100, 2)
        before = "numpy.f2py" in sys.modules
        import numpy, scipy._lib.array_api_compat.numpy as sp, sklearn.externals.array_api_compat.numpy as sk
        works = [callable(m.f2py.run_main) for m in (sp, sk)]
        print(json.dumps([before, works, type(numpy.f2py).__name__, "numpy.f2py" in sys.modules]))
    """)
    assert json.loads(out) == [False, [True, True], "module", True]
