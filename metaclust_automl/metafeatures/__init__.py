"""Meta-features: a named vector that describes a table, at a cost that stays flat in n.

``extract(X)`` returns ``{name: value}`` for every registered group (built-in groups are
registered through the ``register_metafeatures`` hook like any plugin's). Values are
always finite: an undefined feature takes its documented fallback. Extraction is
deterministic for a seed and invariant to the order of the rows; see ``base`` for the
cost model.
"""
from __future__ import annotations

from .base import Context, MetaFeatureGroup, MetaFeatureWarning, describe, extract, feature_names

__all__ = ["Context", "MetaFeatureGroup", "MetaFeatureWarning", "describe", "extract", "feature_names"]
