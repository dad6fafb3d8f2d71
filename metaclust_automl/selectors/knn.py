"""The nearest-neighbour selector: the baseline every other selector must beat.

A new table is placed in the standardised meta-feature space of the knowledge base's
tasks; the performance rows of its ``k`` nearest tasks, weighted by closeness, are its
predicted scores (the warm-start idea of auto-sklearn). By default each neighbour's row is
read as shares of that task's best score (so a task where nothing works weighs as much as
one where everything does), scaled back to the ARI scale by the neighbours' mean best; and
the first choices come from a robust sub-portfolio (``portfolio.greedy_cover``), the
other configurations ranking behind it as fallbacks. Both were chosen leave-one-family-out
over the corpus and leave-one-battery-out over the dev tasks (``bench/selection_cv.py``). With a budget it runs its best
few configurations and re-scores each one from the tasks where that configuration
produced similar internal indices, so that what the indices say is read in context
instead of trusted blindly.
"""
from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from ..knowledge_base import KnowledgeBase
from .base import Query, Selector
from .features import Standardiser, index_features, index_vector, metafeature_scaler, performance
from .portfolio import portfolio_mask, share_of_best
from .state import TARGET_VALUES, kb_fingerprint, load_state, save_state


#: neighbours averaged by the kNN estimate (chosen by bench/selectors_cv.py on the knowledge base)
DEFAULT_K = 10
#: configurations of the robust sub-portfolio ranked first (bench/selection_cv.py)
DEFAULT_PORTFOLIO_SIZE = 20
#: what the neighbours' rows are averaged as: "share_of_best" (each row over its best) or "ari"
TARGETS = TARGET_VALUES


def knn_base(Z_ref: np.ndarray, P_ref: np.ndarray, Zq: np.ndarray, k: int = DEFAULT_K,
             exclude: np.ndarray | None = None) -> np.ndarray:
    """kNN estimate [Q, K] of every configuration's score on Q query tables: the average of
    the performance rows of the k nearest reference tables (root-mean-square distance over
    standardised meta-features), weighted by 1 / (distance + 0.05). ``exclude`` [Q, T] masks
    reference tables a query may not use (its own group, in training)."""
    Zq = np.atleast_2d(Zq)
    sq = (np.sum(Zq ** 2, 1)[:, None] + np.sum(Z_ref ** 2, 1)[None] - 2.0 * Zq @ Z_ref.T)
    D = np.sqrt(np.maximum(sq, 0.0) / Z_ref.shape[1])
    if exclude is not None:
        D = np.where(exclude, np.inf, D)
    nn, w = neighbour_weights(D, k)
    return np.einsum("qk,qkc->qc", w, P_ref[nn])


def neighbour_weights(D: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest reference tables of each query row of distances ``D`` [Q, T] and their
    weights, 1 / (distance + 0.05) normalised (infinite distance: weight 0)."""
    k = max(1, min(int(k), D.shape[1]))
    nn = np.argsort(D, axis=1, kind="stable")[:, :k]
    d = np.take_along_axis(D, nn, 1)
    w = np.where(np.isfinite(d), 1.0 / (d + 0.05), 0.0)
    empty = w.sum(1) == 0
    w[empty] = 1.0  # nothing allowed: plain average of whatever came first
    return nn, w / w.sum(1, keepdims=True)


def task_groups(kb: KnowledgeBase) -> np.ndarray:
    return np.array([t.group or t.id for t in kb.tasks])


class KNNSelector(Selector):
    """Average of the nearest tasks' performance rows.

    ``k``: neighbours averaged; ``target``: "share_of_best" (rows over their best, scaled back
    by the neighbours' mean best) or "ari" (raw rows); ``portfolio_size``: configurations of
    the robust sub-portfolio that rank first (0 = no restriction); ``index_weight`` and
    ``probe_blend``: how a probe's internal indices re-score its configuration."""

    name: ClassVar[str] = "knn"
    probe_judge: ClassVar[bool] = True

    def __init__(self, k: int = DEFAULT_K, metric: str = "ari", index_weight: float = 2.0,
                 probe_blend: float = 0.5, target: str = "share_of_best",
                 portfolio_size: int = DEFAULT_PORTFOLIO_SIZE) -> None:
        self.k = k
        self.metric = metric
        self.index_weight = index_weight
        self.probe_blend = probe_blend
        self.target = target
        self.portfolio_size = portfolio_size

    # -- fitting ----------------------------------------------------------------------
    def fit(self, kb: KnowledgeBase) -> KNNSelector:
        """Standardise the knowledge base's meta-features (on the scale of its numeric tables:
        ``metafeature_scaler``) and indices (deterministic: no seed)."""
        self._setup(kb, metafeature_scaler(kb.M, list(kb.metafeature_names)),
                    Standardiser.fit(index_features(kb.C)))
        return self

    def _setup(self, kb: KnowledgeBase, mscale: Standardiser, iscale: Standardiser) -> None:
        from ..errors import ConfigError

        if self.target not in TARGETS:
            raise ConfigError(f"knn target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if int(self.portfolio_size) < 0:
            raise ConfigError(f"knn portfolio_size must be 0 (no restriction) or more, got {self.portfolio_size}")
        self.kb_ = kb
        self.mscale_, self.iscale_ = mscale, iscale
        self.Z_ = mscale.transform(kb.M)
        self.P_ = performance(kb, self.metric)
        self.best_ = self.P_.max(axis=1)
        self.share_ = share_of_best(self.P_)
        #: configurations ranked first (the ranking core reads it; the rest are fallbacks)
        self.portfolio_ = portfolio_mask(self.P_, int(self.portfolio_size))
        self.CZ_ = iscale.transform(index_features(kb.C))
        self.fingerprint_ = kb_fingerprint(kb)

    def _estimate(self, nn: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Scores on the ARI scale from neighbours ``nn`` with weights ``w``."""
        if self.target == "ari":
            return w @ self.P_[nn]
        return (w @ self.share_[nn]) * float(w @ self.best_[nn])

    def _check(self) -> KnowledgeBase:
        if getattr(self, "kb_", None) is None:
            from ..errors import ConfigError

            raise ConfigError("the knn selector is not fitted; call fit(kb) or load() first")
        return self.kb_

    # -- ranking ----------------------------------------------------------------------
    def _neighbours(self, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nn, w = neighbour_weights(dist[None], self.k)
        return nn[0], w[0]

    def _task_distances(self, metafeatures: np.ndarray) -> np.ndarray:
        z = self.mscale_.transform(np.asarray(metafeatures, dtype=np.float64))
        return np.sqrt(np.mean((self.Z_ - z) ** 2, axis=1))

    def predict_scores(self, query: Query) -> np.ndarray:
        kb = self._check()
        dist = self._task_distances(query.metafeatures)
        nn, w = self._neighbours(dist)
        scores = self._estimate(nn, w)
        budget = int(query.budget or 0)
        if budget > 0 and query.probe is not None:
            allowed = np.ones(scores.size, bool) if query.feasible is None else np.asarray(query.feasible, bool)
            if (allowed & self.portfolio_).any():
                allowed = allowed & self.portfolio_  # probe what may be chosen first
            order = [c for c in np.argsort(-scores, kind="stable") if allowed[c]][:budget]
            for c in order:
                obs = self.iscale_.transform(index_features(index_vector(query.probe(int(c)), kb.index_names)))
                d_idx = np.sqrt(np.mean((self.CZ_[:, c] - obs) ** 2, axis=1))
                joint = np.sqrt(dist ** 2 + self.index_weight * d_idx ** 2)
                nn_c, w_c = self._neighbours(joint)
                scores[c] = (1 - self.probe_blend) * scores[c] + self.probe_blend * float(w_c @ self.P_[nn_c, c])
        return scores

    def explain(self, query: Query, config_index: int) -> str:
        kb = self._check()
        nn, _ = self._neighbours(self._task_distances(query.metafeatures))
        best = nn[int(np.argmax(self.P_[nn, config_index]))]
        return (f"ARI {self.P_[nn, config_index].mean():.2f} on average over the {nn.size} most similar "
                f"known tables (e.g. {kb.tasks[best].group or kb.tasks[best].id})")

    # -- files ------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> None:
        kb = self._check()
        save_state(directory, self.name, {
            "kb_fingerprint": self.fingerprint_,
            "hyper": {"k": self.k, "metric": self.metric, "index_weight": self.index_weight,
                      "probe_blend": self.probe_blend, "target": self.target,
                      "portfolio_size": int(self.portfolio_size)},
            "portfolio": [kb.configs[i].id for i in np.flatnonzero(self.portfolio_)],
            "metafeature_scaler": self.mscale_.to_dict(), "index_scaler": self.iscale_.to_dict(),
        })

    @classmethod
    def load(cls, directory: str | os.PathLike, kb: KnowledgeBase) -> KNNSelector:
        meta, _ = load_state(directory, cls.name, kb)
        self = cls(**meta["hyper"])
        self._setup(kb, Standardiser.from_dict(meta["metafeature_scaler"]),
                    Standardiser.from_dict(meta["index_scaler"]))
        return self

    def get_info(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "metric": self.metric, "target": self.target,
                "portfolio_size": int(self.portfolio_size)}
