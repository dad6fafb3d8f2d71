"""metaclust: meta-learned recommendations of clustering algorithms and parameters.

Heavy modules (torch, optuna, the selectors) are imported lazily so that
``import metaclust_automl`` and ``metaclust --help`` stay fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: F401  (re-exported)
    BackendError,
    ConfigError,
    DataError,
    KnowledgeBaseError,
    MetaclustError,
    PluginError,
)
