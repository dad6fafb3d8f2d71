"""Importing genieclust and scikit-learn without the modules they import and never use here.

These imports cost a ``metaclust cluster`` process more than half a second and serve nothing
it does (``python -X importtime`` on this 2-core machine, load about 1.5):

- ``genieclust`` imports ``deadwood``, whose ``deadwood/plots.py`` runs ``import
  matplotlib.pyplot as plt`` at module level (for two plot helpers) and reads
  ``plt.colormaps`` for its palette: 0.32 s of the 0.43 s genieclust import is pyplot, and
  genie is among the probes on most tables. Without pyplot, ``import matplotlib`` and
  ``matplotlib.colors`` (for ``to_hex``) still cost 0.10-0.14 CPU s; the palette it builds is
  four fixed qualitative colormaps, answered from :data:`TAB_PALETTES`;
- ``sklearn.utils.fixes`` runs ``import pandas as pd`` (0.2-0.3 s) to keep the name for a
  helper that is handed a frame; scikit-learn's checks for pandas input look in
  ``sys.modules`` at run time, and a table this package streams in never needs pandas;
- ``sklearn.utils.fixes`` imports ``scipy.stats`` (0.5 s, most of it building docstrings of
  the distributions), and five scikit-learn modules that ``sklearn.cluster`` pulls in take
  ``rankdata``, ``spearmanr``, ``gmean`` and ``chi2`` from it at import; no clustering step
  calls them. ``scipy.optimize``, ``scipy.integrate`` and ``scipy.interpolate`` are the same
  case on a smaller scale (0.26 s together on a ``metaclust cluster`` run, importtime, load
  about 1): metrics, linear models and spline features that ``sklearn.cluster`` imports
  take a name or two from them for functions no clustering step calls; and SciPy's first
  import reads ``numpy.f2py`` (0.06 s) for its array-API shim (:func:`import_scipy_linalg`),
  as scikit-learn's own copy of that shim does.

While those packages are first imported, a :class:`DeferredModule` stands in for each of
these modules (:func:`deferring`). It answers the few names the importers take with
stand-ins (deadwood's palette colours, ``to_hex`` of a colour that is hex already; :class:`LazyAttribute`
proxies that import the real module when called or used) and imports the real module the
moment anything else is asked of it, so nothing breaks, it only stops being free. When the
import is done the stand-in leaves ``sys.modules`` and its parent package: the next
``import matplotlib.pyplot`` (``--plot``'s, a user's) or ``import scipy.stats`` imports the
real module, and only the names bound during the import keep pointing at stand-ins.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def real_module(name: str) -> types.ModuleType:
    """Module ``name`` itself, imported now if need be (never a stand-in)."""
    current = sys.modules.get(name)
    if isinstance(current, DeferredModule):
        del sys.modules[name]  # so that the import below runs the real module
    return importlib.import_module(name)


class LazyAttribute:
    """``module.name`` before the module is imported: calling it or reading an attribute of
    it imports the module and forwards (``chi2.isf(...)``, ``rankdata(...)``)."""

    __slots__ = ("_module", "_name")

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name

    def _target(self) -> Any:
        return getattr(real_module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target(), attr)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class DeferredModule(types.ModuleType):
    """Stands for module ``name`` until a name other than its stand-ins is used; then
    imports the real module (once) and forwards every access to it. A package's stand-in
    carries the real ``__path__``, so that its submodules still import."""

    def __init__(self, name: str, stand_ins: dict[str, Callable[[], Any]] | None = None,
                 lazy: Iterable[str] = ()) -> None:
        super().__init__(name)
        spec = importlib.util.find_spec(name)
        self.__dict__["__spec__"] = spec
        if spec is not None and spec.submodule_search_locations is not None:
            self.__dict__["__path__"] = list(spec.submodule_search_locations)
        answers = dict(stand_ins or {})
        for attr in lazy:
            answers.setdefault(attr, lambda attr=attr: LazyAttribute(name, attr))
        self.__dict__["_deferred_stand_ins"] = answers

    def _deferred(self) -> bool:
        """Whether the real module is still not imported."""
        current = sys.modules.get(self.__name__)
        return current is None or isinstance(current, DeferredModule)

    def __getattr__(self, attr: str) -> Any:
        stand_in = self.__dict__["_deferred_stand_ins"].get(attr)
        if stand_in is not None and self._deferred():
            return stand_in()  # the real module is not imported: keep it so
        if "__path__" in self.__dict__ and self._deferred() and not attr.startswith("__") and \
                importlib.util.find_spec(f"{self.__name__}.{attr}") is not None:
            # a submodule (``from . import sibling`` inside the package): import just it, not
            # the package's __init__ while one of its modules is half imported
            return importlib.import_module(f"{self.__name__}.{attr}")
        return getattr(real_module(self.__name__), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        # the import system binds a submodule imported meanwhile on its parent: keep it here
        # (importing the real package now would re-enter that submodule's import)
        super().__setattr__(attr, value)
        if not self._deferred() and not (attr.startswith("__") and attr.endswith("__")):
            setattr(sys.modules[self.__name__], attr, value)

    def __dir__(self) -> list[str]:
        return dir(real_module(self.__name__))


@contextlib.contextmanager
def deferring(name: str, stand_ins: dict[str, Callable[[], Any]] | None = None,
              lazy: Iterable[str] = ()) -> Iterator[None]:
    """Within the block, ``import NAME`` finds a :class:`DeferredModule` (unless the real
    module is imported already); afterwards ``sys.modules`` and the parent package no longer
    hold it."""
    parent_name, _, child = name.rpartition(".")
    if name in sys.modules or (parent_name and parent_name not in sys.modules and
                               importlib.util.find_spec(parent_name) is None):
        yield
        return
    parent = importlib.import_module(parent_name) if parent_name else None
    if importlib.util.find_spec(name) is None:  # not installed: the importer's ImportError stays
        yield
        return
    stand = DeferredModule(name, stand_ins, lazy)
    sys.modules[name] = stand
    if parent is not None:
        setattr(parent, child, stand)
    try:
        yield
    finally:
        if sys.modules.get(name) is stand:
            del sys.modules[name]
        if parent is not None and parent.__dict__.get(child) is stand:
            delattr(parent, child)


#: matplotlib's qualitative colormaps that ``deadwood/plots.py`` reads at import for its
#: palette, as ``matplotlib.colors.to_hex`` writes them (matplotlib 3.4-3.11; the test of the
#: palette compares with the real matplotlib's)
TAB_PALETTES = {
    "tab10": "1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b e377c2 7f7f7f bcbd22 17becf",
    "tab20": "1f77b4 aec7e8 ff7f0e ffbb78 2ca02c 98df8a d62728 ff9896 9467bd c5b0d5 "
             "8c564b c49c94 e377c2 f7b6d2 7f7f7f c7c7c7 bcbd22 dbdb8d 17becf 9edae5",
    "tab20b": "393b79 5254a3 6b6ecf 9c9ede 637939 8ca252 b5cf6b cedb9c 8c6d31 bd9e39 "
              "e7ba52 e7cb94 843c39 ad494a d6616b e7969c 7b4173 a55194 ce6dbd de9ed6",
    "tab20c": "3182bd 6baed6 9ecae1 c6dbef e6550d fd8d3c fdae6b fdd0a2 31a354 74c476 "
              "a1d99b c7e9c0 756bb1 9e9ac8 bcbddc dadaeb 636363 969696 bdbdbd d9d9d9",
}


class _Palettes(dict):
    """``pyplot.colormaps`` while matplotlib is deferred: the qualitative maps as lists of
    hex colours (``.colors``); any other map is the real one."""

    def __missing__(self, name: str) -> Any:
        return importlib.import_module("matplotlib").colormaps[name]


def _palettes() -> _Palettes:
    return _Palettes({name: types.SimpleNamespace(colors=tuple(f"#{c}" for c in hexes.split()))
                      for name, hexes in TAB_PALETTES.items()})


def _to_hex(color: Any, keep_alpha: bool = False) -> str:
    """``matplotlib.colors.to_hex`` without importing matplotlib for a colour that is one
    already (the palettes above); anything else goes to the real function."""
    if isinstance(color, str) and len(color) == 7 and color[0] == "#" and not keep_alpha and \
            all(c in "0123456789abcdefABCDEF" for c in color[1:]):
        return color.lower()
    return importlib.import_module("matplotlib.colors").to_hex(color, keep_alpha=keep_alpha)


def import_genieclust() -> types.ModuleType:
    """``import genieclust`` with matplotlib deferred (see the module docstring)."""
    if "genieclust" in sys.modules or "deadwood" in sys.modules:
        import genieclust  # deadwood (and its plots module, or a stand-in for it) is loaded already

        return genieclust
    with deferring("matplotlib"), deferring("matplotlib.colors", {"to_hex": lambda: _to_hex}), \
            deferring("matplotlib.pyplot", {"colormaps": _palettes}):
        import genieclust
    return genieclust


#: what scikit-learn's modules take from ``scipy.stats`` when ``sklearn.cluster`` is imported
#: (``from scipy.stats import ...`` in metrics/_ranking, model_selection/_search, isotonic,
#: _loss/link, covariance/_robust_covariance; scikit-learn 1.9)
SCIPY_STATS_NAMES = ("rankdata", "spearmanr", "gmean", "chi2")

#: the other SciPy subpackages ``sklearn.cluster`` imports and clustering never calls, with the
#: names scikit-learn's modules take from them at import (scikit-learn 1.9): scipy.optimize
#: (metrics/cluster/_bicluster, linear_model/_quantile, neighbors/_nca; the rest bind the
#: module), scipy.integrate (metrics/_ranking) and scipy.interpolate (preprocessing/_polynomial)
SCIPY_DEFERRED = {
    "scipy.optimize": ("linear_sum_assignment", "linprog", "minimize", "minimize_scalar"),
    "scipy.integrate": ("trapezoid",),
    "scipy.interpolate": ("BSpline",),
}


def import_scipy_linalg() -> None:
    """``import scipy.linalg`` with ``numpy.f2py`` deferred: SciPy's array-API shim
    (``scipy._lib.array_api_compat.numpy``) copies every name of numpy's namespace, and reading
    ``numpy.f2py`` imports the Fortran wrapper generator (0.06 CPU s a process) that nothing
    here calls; the copy keeps a stand-in that imports it when used."""
    if "scipy.linalg" in sys.modules:
        return
    with deferring("numpy.f2py"):
        import scipy.linalg  # noqa: F401


def import_sklearn() -> None:
    """Import ``sklearn.cluster`` (and the base it stands on) with ``pandas``, ``numpy.f2py``,
    ``scipy.stats`` and the subpackages of :data:`SCIPY_DEFERRED` deferred (see the module
    docstring). Once scikit-learn's base is imported, they were imported with it: then nothing
    is imported here. ``metaclust detect``
    calls it too (from ``anomaly.estimator``): importing ``sklearn.cluster`` there costs less
    than pandas and scipy.stats save (1,000 x 10: 1.5-1.8 s against 2.1-2.2 s)."""
    if "sklearn" in sys.modules:
        return
    before = set(sys.modules)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(deferring("pandas"))
            stack.enter_context(deferring("numpy.f2py"))  # scikit-learn's array-API shim, as SciPy's
            stack.enter_context(deferring("scipy.stats", lazy=SCIPY_STATS_NAMES))
            for name, names in SCIPY_DEFERRED.items():
                stack.enter_context(deferring(name, lazy=names))
            import sklearn.cluster  # noqa: F401
    except ImportError:
        # another scikit-learn or SciPy that imports these modules in a way the stand-ins do
        # not serve: forget the half-done import and import plainly
        for name in set(sys.modules) - before:
            del sys.modules[name]
        import sklearn.cluster  # noqa: F401,F811
