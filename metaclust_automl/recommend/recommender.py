"""Recommending configurations for a new table: the product in one class.

``Recommender.default().recommend(X, top=5)`` reads the table's meta-features, asks a
selector (fitted on a knowledge base) to score every configuration of the knowledge
base's portfolio that can run here, and returns the best ones as plain dataclasses,
with their parameters made concrete for this table. With a budget, the selector may run
configurations on (a bounded sample of) the table first; with a few known labels, a
selector that can adapt (maml) re-ranks from them.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..backends.noise import DEFAULT_NOISE, apply_policy, check_policy
from ..errors import BackendError, KnowledgeBaseError
from ..running.backend_runner import DEFAULT_TIME_LIMIT, BackendRunner
from ..knowledge_base import KnowledgeBase
from .ranking import PROBE_ROWS, TableSession, rank
from .recommendation import Recommendation
from .weights import load_selector

#: the selector used when none is named: the best leave-one-battery-out through `metaclust cluster`
#: (bench/quality.py: knn 0.704 with its sub-portfolio, 0.697 before it, maml 0.668 mean ARI on the
#: 46 dev datasets; see README)
DEFAULT_SELECTOR = "knn"


class Recommender:
    """Ranks a knowledge base's configurations for new tables with one selector."""

    def __init__(self, kb: KnowledgeBase, selector: Any, *, probe_rows: int = PROBE_ROWS,
                 time_limit: float | None = DEFAULT_TIME_LIMIT, runner: BackendRunner | None = None,
                 judge: bool = True) -> None:
        self.kb = kb
        #: with a budget of 2 or more, let the probe judge spend it (``recommend.ranking.rank``)
        self.judge = bool(judge)
        self.selector = selector
        self.probe_rows = int(probe_rows)
        self.session: TableSession | None = None
        self.labelled_scores: dict[int, float] = {}
        #: runs backends: built-ins in process, plugins' in a worker with ``time_limit`` seconds
        #: (``runner``: one the caller shares across recommenders, e.g. ``metaclust evaluate``)
        self.runner = runner if runner is not None else BackendRunner(time_limit)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def default(cls, selector: str | None = None, kb: str | os.PathLike | KnowledgeBase | None = None,
                weights: str | os.PathLike | None = None, *,
                time_limit: float | None = DEFAULT_TIME_LIMIT) -> Recommender:
        """The shipped knowledge base (or ``kb``) with the default selector (or ``selector``),
        using fitted weights from ``weights``, the knowledge base's directory or the package.
        ``time_limit``: seconds each run of a plugin's backend may take (None = no limit)."""
        from ..knowledge_base import load_default

        if isinstance(kb, KnowledgeBase):
            base = kb
        elif kb is None:
            base = load_default()
        else:
            base = KnowledgeBase.load(kb)
        return cls(base, load_selector(selector or DEFAULT_SELECTOR, base, weights), time_limit=time_limit)

    # -- ranking ----------------------------------------------------------------------------
    def recommend(self, X: Any, top: int = 5, budget: int = 0, labels: Any = None, seed: int = 0, *,
                  metafeatures: dict[str, float] | None = None,
                  resolve_first: int | None = None) -> list[Recommendation]:
        """The ``top`` best configurations for table ``X``, best first (see :func:`.ranking.rank`;
        ``metafeatures``: the table's ``metafeatures.extract(X, seed=seed)`` if already known)."""
        from ..validation import check_matrix

        X = check_matrix(X)
        if not X.flags.writeable:  # some backends (hdbscan) fail on read-only memory maps
            X = np.array(X)
        ranking = rank(X, self.kb, self.selector, self.runner, top=top, budget=budget, labels=labels,
                       seed=seed, probe_rows=self.probe_rows, metafeatures=metafeatures, judge=self.judge,
                       resolve_first=resolve_first)
        self.session, self.labelled_scores = ranking.session, ranking.labelled_scores
        self.runner.release()
        return ranking.recommendations

    def cluster(self, X: Any, *, budget: int = 0, labels: Any = None, seed: int = 0, fallbacks: int = 2,
                metafeatures: dict[str, float] | None = None,
                noise: str = DEFAULT_NOISE) -> tuple[Recommendation, Any, list[Recommendation]]:
        """Recommend, then run the best configuration on the whole table; when it fails there
        (out of memory, a degenerate table, a plugin's backend that raises or hangs), run the
        next one. Returns (the recommendation that ran, its ``ClusterRun``, the ranked
        recommendations); the run's notes say what failed. ``noise``: "assign" gives the rows
        the method left as noise their nearest cluster's label (``backends.noise``: what the
        knowledge base's rows score), "keep" leaves them -1.

        A plugin's backend that hung or crashed is not started again on this table; when that
        leaves no candidate, the ranking is made once more without it and its next candidates
        run. BackendError when nothing could run."""
        from ..validation import check_matrix

        X = check_matrix(X)
        if not X.flags.writeable:
            X = np.array(X)  # one array for every step: the runner sees one table
        check_policy(noise)
        try:
            rec, run, recs = self._cluster(X, budget, labels, seed, 1 + max(0, int(fallbacks)), metafeatures)
        finally:
            self.runner.release()
        return rec, apply_policy(run, X, noise, seed), recs

    def _cluster(self, X: np.ndarray, budget: int, labels: Any, seed: int, top: int,
                 metafeatures: dict[str, float] | None) -> tuple[Recommendation, Any, list[Recommendation]]:
        recs = self.recommend(X, top=top, budget=budget, labels=labels, seed=seed, metafeatures=metafeatures,
                              resolve_first=1)
        failures: list[str] = []
        tried: set[str] = set()
        for again in (False, True):
            for rec in recs:
                if rec.config_id in tried:
                    continue
                tried.add(rec.config_id)
                try:
                    run = self._probed_run(X, rec, seed) or self.run_best(X, rec, seed=seed)
                except BackendError as exc:
                    failures.append(f"rank {rec.rank} ({rec.algorithm}) failed on the whole table: {exc}")
                    continue
                run.notes[:0] = failures
                return rec, run, recs
            if again or not any(r.algorithm in self.runner.broken for r in recs):
                break
            try:  # the broken plugin's configurations drop out of this ranking
                recs = self.recommend(X, top=top + len(tried), budget=budget, labels=labels, seed=seed,
                                      metafeatures=metafeatures, resolve_first=1)
            except (BackendError, KnowledgeBaseError):
                break
        raise BackendError(f"none of the {len(tried)} recommended configurations tried ran on this table: "
                           + ("; ".join(failures) or "no recommendation"))

    def _probed_run(self, X: np.ndarray, rec: Recommendation, seed: int) -> Any:
        """The probe's run of ``rec`` when the probe sample was the whole of ``X`` with this seed
        (the same run as ``run_best`` would make: same rows, parameters and seed), else None."""
        s = self.session
        if s is None or s.X is not X or s.seed != seed or s.sample.size != X.shape[0]:
            return None
        return s.runs.get(self.kb.config_index(rec.config_id))

    def run_best(self, X: Any, recommendation: Recommendation, seed: int = 0) -> Any:
        """Run a recommendation on the whole table (a ``ClusterRun``)."""
        from ..validation import check_matrix

        X = check_matrix(X)
        if not X.flags.writeable:
            X = np.array(X)
        return self.runner.run(recommendation.algorithm, X, recommendation.params, seed=seed)

