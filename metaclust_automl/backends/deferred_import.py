"""Importing genieclust and scikit-learn without the modules they import and never use here.

``genieclust`` imports ``deadwood``, whose ``deadwood/plots.py`` runs ``import
matplotlib.pyplot as plt`` at module level (for two plot helpers) and reads ``plt.colormaps``
to build its palette. pyplot is most of that cost: on this 2-core machine (load 1.5)
``import genieclust`` took 0.43 s of a 3 s ``metaclust cluster`` on 240 rows, 0.32 s of it
in ``matplotlib.pyplot`` (``python -X importtime``); genie is among the probes on most tables.

``sklearn.utils.fixes`` runs ``import pandas as pd`` (0.2-0.3 s, pyarrow aside) only to keep
the name for a helper that is handed a frame; scikit-learn's checks for pandas input look in
``sys.modules`` at run time. A table loaded by this package never needs pandas on the
streaming path (loading.py), so while scikit-learn is first imported pandas is deferred the
same way: it is imported for real the moment anything uses it.

While genieclust is imported, a :class:`DeferredModule` stands in for ``matplotlib.pyplot``:
it answers ``colormaps`` with ``matplotlib.colormaps`` (the very object pyplot exports) and
imports the real pyplot the first time anything else is asked of it, so deadwood's and
genieclust's plot helpers still work. The stand-in is removed from ``sys.modules`` as soon as
the import is done: a later ``import matplotlib.pyplot`` (the user's, ``--plot``'s) imports
the real module, and only deadwood's own ``plt`` name keeps pointing at the stand-in.
"""
from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any


class DeferredModule(types.ModuleType):
    """Stands for module ``name`` until an attribute other than ``stand_ins`` is used; then
    imports the real module (once) and forwards every access to it."""

    def __init__(self, name: str, stand_ins: dict[str, Callable[[], Any]]) -> None:
        super().__init__(name)
        self.__dict__["_deferred_stand_ins"] = dict(stand_ins)

    def _deferred_real(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]  # so that the import below runs the real module
        return importlib.import_module(self.__name__)

    def __getattr__(self, attr: str) -> Any:
        stand_in = self.__dict__["_deferred_stand_ins"].get(attr)
        if stand_in is not None and sys.modules.get(self.__name__) in (None, self):
            return stand_in()  # the real module is not imported: keep it so
        return getattr(self._deferred_real(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr.startswith("__") and attr.endswith("__"):
            super().__setattr__(attr, value)
        else:
            setattr(self._deferred_real(), attr, value)

    def __dir__(self) -> list[str]:
        return dir(self._deferred_real())


@contextlib.contextmanager
def deferring(name: str, stand_ins: dict[str, Callable[[], Any]]) -> Iterator[None]:
    """Within the block, ``import NAME`` finds a :class:`DeferredModule` (unless the real
    module is imported already); afterwards ``sys.modules`` and the parent package no longer
    hold it."""
    if name in sys.modules:
        yield
        return
    parent_name, _, child = name.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    stand = DeferredModule(name, stand_ins)
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


def _colormaps() -> Any:
    return importlib.import_module("matplotlib").colormaps


def import_genieclust() -> types.ModuleType:
    """``import genieclust`` with ``matplotlib.pyplot`` deferred (see the module docstring)."""
    if "genieclust" in sys.modules or "deadwood" in sys.modules:
        import genieclust  # deadwood (and its plots module, or a stand-in for it) is loaded already

        return genieclust
    with deferring("matplotlib.pyplot", {"colormaps": _colormaps}):
        import genieclust
    return genieclust


def import_sklearn() -> None:
    """Import scikit-learn's base (``sklearn.utils``) with ``pandas`` deferred (see the module
    docstring); nothing changes when either is imported already."""
    if "sklearn" in sys.modules or "pandas" in sys.modules:
        return
    with deferring("pandas", {}):
        import sklearn.utils  # noqa: F401
