"""The built-in anomaly detectors, registered through the same hook as any plugin's.

``meta_rl`` is the meta-learned policy (``MetaAnomalyDetector``); the base detectors of its
state are registered too, under their own names, so they can be compared or used alone.
Each factory returns an unfitted estimator with ``fit``, ``decision_function`` and ``predict``.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..hookspecs import hookimpl

#: the name of the meta-learned detector in the registry (the default of ``metaclust detect``)
META_DETECTOR = "meta_rl"


@hookimpl
def register_detectors(register: Callable[[str, Any], None]) -> None:
    from ..anomaly.detectors import DETECTOR_NAMES
    from ..anomaly.estimator import BaseDetector, MetaAnomalyDetector

    register(META_DETECTOR, MetaAnomalyDetector)
    for name in DETECTOR_NAMES:
        register(name, partial(BaseDetector, detector=name))
