"""metaclust: meta-learned recommendations of clustering algorithms and parameters.

Heavy modules (torch, optuna, the selectors) are imported lazily so that
``import metaclust_automl`` and ``metaclust --help`` stay fast.
"""
from __future__ import annotations

__version__ = "0.1.0"
#: the distribution this package installs as (plugins name theirs; built-ins report this one)
DISTRIBUTION = "metaclust-automl"

from .errors import (  # noqa: F401  (re-exported)
    BackendError,
    ConfigError,
    DataError,
    KnowledgeBaseError,
    MetaclustError,
    PluginError,
)

#: public names imported on first use (``metaclust_automl.Recommender`` etc.)
_LAZY = {
    "Recommender": ("metaclust_automl.recommend", "Recommender"),
    "Recommendation": ("metaclust_automl.recommend", "Recommendation"),
    "MetaClusterer": ("metaclust_automl.estimator", "MetaClusterer"),
    "explain": ("metaclust_automl.trust.explain", "explain"),
    "structure_test": ("metaclust_automl.trust.structure", "structure_test"),
}


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attributes
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metaclust_automl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
