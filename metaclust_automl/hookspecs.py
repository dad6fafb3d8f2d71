"""Hook specifications: the seams through which every backend, selector and
meta-feature group enters metaclust, built-in ones included.

A plugin is a module or package with functions decorated by ``hookimpl`` and
named like the specs below; it is found through the ``metaclust`` entry-point group.
Each hook receives a ``register`` callable and calls it once per object it adds.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "metaclust"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_backends(register: Callable[[Any], None]) -> None:
    """Register clustering backends: call ``register(backend)`` with a ``Backend`` instance."""


@hookspec
def register_selectors(register: Callable[[str, Any], None]) -> None:
    """Register meta-learners: call ``register(name, factory)``; ``factory()`` returns an
    unfitted selector (see ``metaclust_automl.selectors``)."""


@hookspec
def register_metafeatures(register: Callable[[Any], None]) -> None:
    """Register meta-feature groups: call ``register(group)`` with a ``MetaFeatureGroup``."""


@hookspec
def register_detectors(register: Callable[[str, Any], None]) -> None:
    """Register anomaly detectors: call ``register(name, factory)``."""
