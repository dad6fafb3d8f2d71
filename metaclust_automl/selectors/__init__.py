"""Selectors (meta-learners): rank the knowledge base's configurations for a new table."""
from .base import Query, Selector

__all__ = ["Query", "Selector"]
