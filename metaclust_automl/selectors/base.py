"""The selector protocol shared by every meta-learner, built-in or plugged in.

A selector is fitted on a knowledge base and predicts, for a new table, a quality score
(higher is better, on the ARI scale) for each configuration of that knowledge base's
portfolio. Selectors that search (RL2, or any selector given a budget) may run
configurations on the table through ``Query.probe`` and read their internal indices.
"""
from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
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


class Selector(ABC):
    """Base class of meta-learners, with scikit-learn's conventions: ``__init__`` only stores
    its parameters, unchanged (``get_params``/``set_params`` read them from its signature);
    a randomised selector takes ``random_state`` there; ``fit`` learns attributes whose names
    end in ``_`` and returns self."""

    name: ClassVar[str] = ""
    #: True: with a budget of 2 or more the ranking core spends it (the probe judge orders the
    #: selector's first candidates); False: the selector receives the budget and probes as it
    #: sees fit (rl2's sequential probing). The judge was fitted on the knn selector's candidates.
    probe_judge: ClassVar[bool] = False

    @abstractmethod
    def fit(self, kb: KnowledgeBase) -> Selector:
        """Learn from a knowledge base; returns self."""

    @abstractmethod
    def predict_scores(self, query: Query) -> np.ndarray:
        """Predicted quality of every portfolio configuration on the query's table."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: ARG002 - no nested estimators
        """The constructor's parameters and their values (as scikit-learn's ``get_params``)."""
        return {n: getattr(self, n) for n in self._param_names()}

    def set_params(self, **params: Any) -> Selector:
        """Change constructor parameters; returns self. Unknown names raise ConfigError."""
        from ..errors import ConfigError

        known = self._param_names()
        for k, v in params.items():
            if k not in known:
                raise ConfigError(f"selector {self.name!r} has no parameter {k!r}; it has {', '.join(known) or 'none'}")
            setattr(self, k, v)
        return self

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


def fit_seeded(selector: Any, kb: KnowledgeBase, seed: int) -> Any:
    """Fit ``selector`` on ``kb`` with ``seed``: as its ``random_state`` when it has one, as the
    older protocol's ``fit(kb, seed=...)`` when its ``fit`` takes that (plugins written before
    the scikit-learn conventions), else plainly (a deterministic selector)."""
    params = selector.get_params() if hasattr(selector, "get_params") else {}
    if "random_state" in params:
        selector.set_params(random_state=seed)
        return selector.fit(kb)
    if "seed" in inspect.signature(selector.fit).parameters:
        return selector.fit(kb, seed=seed)
    return selector.fit(kb)
