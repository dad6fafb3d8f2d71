"""Saying once which plugin went wrong.

A plugin's backend that fails on every table of a meta-training run, or on every probe of
``recommend --budget``, would otherwise print the same warning hundreds of times. Each
distinct problem is warned about once per process (a ``PluginWarning``), naming the
distribution that provides the backend; built-in backends' failures are only recorded by
their callers.
"""
from __future__ import annotations

import warnings
from typing import Any

from .. import DISTRIBUTION

_reported: set[str] = set()


def report_once(message: str, key: str | None = None) -> bool:
    """Warn (PluginWarning) once per process for each distinct ``key`` (default: the
    message itself); True if it warned."""
    from ..plugins import PluginWarning

    key = message if key is None else key
    if key in _reported:
        return False
    _reported.add(key)
    warnings.warn(message, PluginWarning, stacklevel=3)
    return True


def backend_package(algorithm: str) -> str:
    """The distribution that registered a backend (``DISTRIBUTION`` for built-ins)."""
    try:
        from ..plugins import get_registry

        return get_registry().source("backend", algorithm)
    except Exception:  # noqa: BLE001
        return "?"


def report_backend_problem(algorithm: str, outcome: Any) -> None:
    """Report a third-party backend's failure or hang once, naming its package."""
    package = backend_package(algorithm)
    if package in (DISTRIBUTION, "?") or outcome.ok:
        return
    what = "timed out" if outcome.status == "timeout" else "failed"
    report_once(f"plugin {package}: backend {algorithm!r} {what} and was skipped "
                f"({outcome.error}); later problems of this backend are recorded silently",
                key=f"{package}\0{algorithm}\0{what}")
