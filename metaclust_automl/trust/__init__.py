"""Answers a user can trust: is there cluster structure at all (``structure``), how sure is
the chosen partition (``confidence``), and what sets each cluster apart (``explain``)."""
from __future__ import annotations

from .structure import StructureVerdict, structure_test

__all__ = ["StructureVerdict", "structure_test"]
