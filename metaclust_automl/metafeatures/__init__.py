"""Meta-features: a named vector that describes a table, at a cost that stays flat in n.

``extract(X)`` returns ``{name: value}`` for every registered group (built-in groups are
registered through the ``register_metafeatures`` hook like any plugin's). Values are
always finite: an undefined feature takes its group's documented fallback.
"""
from __future__ import annotations

from .base import MetaFeatureGroup, extract, feature_names

__all__ = ["MetaFeatureGroup", "extract", "feature_names"]
