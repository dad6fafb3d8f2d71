"""The selector protocol shared by every meta-learner, built-in or plugged in.

A selector is fitted on a knowledge base and predicts, for a new table, a quality score
(higher is better, on the ARI scale) for each configuration of that knowledge base's
portfolio. Selectors that search (RL2, or any selector given a budget) may run
configurations on the table through ``Query.probe`` and read their internal indices.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..knowledge_base import KnowledgeBase


@dataclass
class Query:
    """What a selector knows about the new table."""

    #: meta-features of the table, in the knowledge base's ``metafeature_names`` order
    metafeatures: np.ndarray
    #: the validated table, for selectors that run configurations (may be None)
    X: np.ndarray | None = None
    #: ``probe(c)`` runs portfolio configuration ``c`` on the table and returns its internal
    #: indices as ``{name: value}`` (names from ``metrics.INDEX_NAMES``); None when running is not allowed
    probe: Callable[[int], dict[str, float]] | None = None
    #: how many configurations the selector may run through ``probe``
    budget: int = 0
    #: a few known labels (one per row, -1 = unknown) for few-shot adaptation, or None
    labels: np.ndarray | None = None
    seed: int = 0
    #: ``run(c)`` runs configuration ``c`` on the table and returns one label per row (noise
    #: -1); used for few-shot adaptation (scoring configurations on the known labels). None
    #: when running is not allowed; selectors then adapt only from what ``probe`` tells them
    run: Callable[[int], np.ndarray] | None = None
    #: which configurations may be recommended for this table (backend installed, affordable
    #: at this n); None = all of them
    feasible: np.ndarray | None = None


class Selector:
    """Base class of meta-learners."""

    name: ClassVar[str] = ""

    def fit(self, kb: KnowledgeBase, *, seed: int = 0) -> Selector:
        """Learn from a knowledge base; returns self."""
        raise NotImplementedError

    def predict_scores(self, query: Query) -> np.ndarray:
        """Predicted quality of every portfolio configuration on the query's table."""
        raise NotImplementedError

    def save(self, directory: str | os.PathLike) -> None:
        """Write the fitted state as plain files (JSON, npz, safetensors; never pickle)."""
        raise NotImplementedError

    @classmethod
    def load(cls, directory: str | os.PathLike, kb: KnowledgeBase) -> Selector:
        """Read a fitted state written by :meth:`save` for the same knowledge base."""
        raise NotImplementedError

    def explain(self, query: Query, config_index: int) -> str:  # noqa: ARG002
        """A short reason for a configuration's rank (shown by ``metaclust recommend``)."""
        return ""

    def get_info(self) -> dict[str, Any]:
        return {"name": self.name}
