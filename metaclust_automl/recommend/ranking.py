"""The one ranking path: a table, a knowledge base and a fitted selector in, ranked
configurations (made concrete for the table) out.

``Recommender`` (and through it ``MetaClusterer``, ``metaclust recommend`` and
``metaclust cluster``), ``metaclust evaluate`` and ``bench/`` all call :func:`rank`, so a
benchmark number is what a user gets. Everything a ranking decides lives here: which
configurations may run on this table (:func:`.feasibility.feasible_mask`),
the meta-features moved into the knowledge base's range (:func:`clip_to_kb_range`), probes on a
bounded sample with the budget enforced, few-label evidence, the selector's robust
sub-portfolio ranked first (:func:`ranked_first`), and the parameters resolved on the table.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backends.resolve import resolve_params
from ..errors import BackendError, ConfigError, DataError, KnowledgeBaseError
from ..knowledge_base import KnowledgeBase
from ..selectors.judge import MAX_CANDIDATES, MIN_CANDIDATES, agreement, candidate_features, for_kb
from .recommendation import Recommendation

#: probes run on at most this many rows, so a budget costs the same on any table size
PROBE_ROWS = 2000

#: internal indices recorded for a probe whose run failed (the worst a table can score)
FAILED_PROBE = {"silhouette": -1.0, "calinski_harabasz": 0.0, "davies_bouldin": 10.0, "n_clusters": 0.0,
                "noise_share": 1.0}


def clip_to_kb_range(vec: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Meta-features beyond the range of the knowledge base's tasks, moved to its edge.

    The selectors were fitted on those tasks only; a table outside their range (most often:
    far more rows than any training task) would make the networks extrapolate, and their
    scores there rank configurations arbitrarily (on 100,000 rows of noisy blobs the maml
    selector's top choice fell from ARI 0.96 to 0.00). At the edge it is judged like the
    largest (or most extreme) tasks it has seen, which is what the kNN selector does anyway.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        lo, hi = np.nanmin(M, axis=0), np.nanmax(M, axis=0)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(vec)
    return np.where(ok, np.clip(vec, np.where(ok, lo, 0.0), np.where(ok, hi, 0.0)), vec)


def metafeature_vector(kb: KnowledgeBase, values: dict[str, float]) -> tuple[np.ndarray, list[str]]:
    """The table's meta-features (``values``, from ``metafeatures.extract``) in the knowledge
    base's order and range, and the names no installed plugin computed (they take the
    knowledge base's median)."""
    names = kb.metafeature_names
    missing = [n for n in names if n not in values]
    med = np.median(kb.M, axis=0)
    vec = np.array([values.get(n, med[i]) for i, n in enumerate(names)], dtype=np.float64)
    return clip_to_kb_range(vec, kb.M), missing


#: how :func:`missing_message` begins (to filter its warning where it is reported otherwise)
MISSING_PATTERN = r"\d+ meta-features of the knowledge base are not computed"


def missing_message(missing: list[str]) -> str:
    """What to tell the user about meta-features no installed plugin computes."""
    return (f"{len(missing)} meta-features of the knowledge base are not computed by the installed "
            f"plugins ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); "
            "using the knowledge base's median for them")


def labels_to_codes(labels: Any, n: int) -> np.ndarray:
    """Few-shot labels: one per row; missing, empty, NaN or -1 mean unknown (coded -1)."""
    from ..corpus.tasks import encode_labels

    raw = np.asarray(labels, dtype=object).reshape(-1)
    if raw.shape[0] != n:
        raise DataError(f"{raw.shape[0]} labels for {n} rows; give one label per row (empty = unknown)")
    unknown = [-1, "-1", "", "-1.0", -1.0]
    return encode_labels(raw, noise_values=unknown)


@dataclass
class TableSession:
    """Runs made on one table during one ranking: probes on a bounded sample (cached, at
    most ``budget`` of them), runs for few-label evidence, shared transforms."""

    kb: KnowledgeBase
    X: np.ndarray
    runner: Any
    seed: int
    probe_rows: int = PROBE_ROWS
    budget: int = 0
    sample: np.ndarray = field(init=False)
    indices: dict[int, dict[str, float]] = field(default_factory=dict)
    labels: dict[int, np.ndarray] = field(default_factory=dict)
    #: the table transformed per (preprocessing, seed): configurations share one transform
    transforms: dict[Any, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    #: the table's meta-feature vector in the knowledge base's order (trust/ reads it)
    metafeatures: np.ndarray | None = None
    #: the probed configurations in the probe judge's order, best first (empty: no judge)
    judged: list[int] = field(default_factory=list)
    #: probe runs kept when the probe sample is the whole table: the chosen one need not run twice
    runs: dict[int, Any] = field(default_factory=dict)
    #: each probe's parameters as resolved on the sample (its k, for a k rule)
    resolved: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        rng = np.random.default_rng(self.seed)
        self.sample = np.arange(n) if n <= self.probe_rows else np.sort(rng.choice(n, self.probe_rows, replace=False))

    @property
    def probes(self) -> int:
        return len(self.indices)

    def probe(self, c: int) -> dict[str, float]:
        """Run configuration c on the probe sample and return its internal indices."""
        from ..metrics import INDEX_NAMES, internal_indices

        c = int(c)
        if c in self.indices:
            return self.indices[c]
        if not 0 <= c < len(self.kb.configs):
            raise ConfigError(f"probe of configuration {c}: the portfolio has {len(self.kb.configs)}")
        if len(self.indices) >= self.budget:
            raise ConfigError(f"a selector probed more than its budget of {self.budget} configurations")
        cfg = self.kb.configs[c]
        start = time.perf_counter()
        try:
            run = self.runner.run(cfg.algorithm, self.X, cfg.params, seed=self.seed, rows=self.sample)
            self.labels[c] = run.labels
            self.resolved[c] = dict(run.resolved)
            if self.sample.size == self.X.shape[0]:
                self.runs[c] = run
            idx = internal_indices(self.X[self.sample], run.labels, seed=self.seed)
        except BackendError:
            idx = FAILED_PROBE
        self.seconds += time.perf_counter() - start
        self.indices[c] = {k: float(idx.get(k, 0.0)) for k in INDEX_NAMES}
        return self.indices[c]

    def run_for_labels(self, c: int, known: np.ndarray) -> np.ndarray:
        """Labels of configuration c for every row; rows outside the run sample (never the
        labelled ones) get -1."""
        n = self.X.shape[0]
        rows = np.union1d(self.sample, np.flatnonzero(known))
        cfg = self.kb.configs[c]
        out = np.full(n, -1, dtype=np.int64)
        try:
            out[rows] = self.runner.run(cfg.algorithm, self.X, cfg.params, seed=self.seed, rows=rows).labels
        except BackendError:
            out[rows] = -1
        return out

    def probed_params(self, c: int) -> dict[str, Any]:
        """Configuration c's parameters for the whole table: on a table bigger than the probe
        sample, with the k its probe ran with (``feasibility.fixed_k``: what the judge
        judged is what runs, without a second search over k)."""
        params = dict(self.kb.configs[c].params)
        if c in self.resolved and self.sample.size < self.X.shape[0]:
            from .feasibility import fixed_k

            params = fixed_k(params, self.resolved[c])
        return params

    def resolve(self, algorithm: str, params: dict[str, Any]) -> dict[str, Any]:
        """Concrete parameters for this table, computed the way ``Backend.run`` will (a
        plugin's backend computes them in the guarded worker)."""
        if self.runner.isolates(algorithm):
            return self.runner.resolve(algorithm, self.X, params, self.seed)
        return resolve_params(self.runner.registry.backend(algorithm), self.X, params, self.seed,
                              cache=self.transforms)


def _judge_for(kb: KnowledgeBase, selector: Any, budget: int) -> Any:
    """The probe judge when it spends this budget: 2 or more, a selector that leaves its budget
    to the judge (``Selector.probe_judge``), and rows to fit the judge on."""
    if budget < MIN_CANDIDATES or not getattr(selector, "probe_judge", False):
        return None
    return for_kb(kb)


def first_candidates(scores: np.ndarray, first: np.ndarray, feasible: np.ndarray, m: int) -> list[int]:
    """The first ``m`` feasible configurations in the ranking core's order (the selector's
    first-ranked ones by score, then the rest): what the probe judge is shown, here and in
    ``training.judge_rows``, so that it is trained on what it will see."""
    s = np.where(feasible, scores, -np.inf)
    return [int(c) for c in np.lexsort((-s, ~first)) if np.isfinite(s[c])][:m]


def judge_candidates(judged: Any, session: TableSession, scores: np.ndarray, first: np.ndarray,
                     feasible: np.ndarray, m: int) -> np.ndarray:
    """Probe the first ``m`` candidates (:func:`first_candidates`) and return a priority per
    configuration (the judge's order of the probed ones first, then everything else)."""
    cands = first_candidates(scores, first, feasible, m)
    priority = np.zeros(scores.size)
    if len(cands) < MIN_CANDIDATES:
        return priority
    indices = [session.probe(c) for c in cands]
    F = candidate_features([scores[c] for c in cands], indices, agreement([session.labels.get(c) for c in cands]))
    order = judged.order(F, indices)
    for rank_, i in enumerate(order):
        priority[cands[i]] = len(cands) - rank_
    session.judged = [cands[i] for i in order]
    return priority


def ranked_first(selector: Any, n_configs: int) -> np.ndarray:
    """Which configurations rank before the others, whatever their scores: the selector's
    ``portfolio_`` (a boolean mask, e.g. the knn selector's robust sub-portfolio) when it has
    one of the right length, else all of them."""
    mask = getattr(selector, "portfolio_", None)
    if mask is None:
        return np.ones(n_configs, dtype=bool)
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    if mask.shape != (n_configs,) or not mask.any():
        return np.ones(n_configs, dtype=bool)
    return mask


@dataclass
class Ranking:
    """What :func:`rank` returns: the recommendations, best first, and the session that
    made them (probes, few-label scores)."""

    recommendations: list[Recommendation]
    session: TableSession
    labelled_scores: dict[int, float] = field(default_factory=dict)


def rank(X: np.ndarray, kb: KnowledgeBase, selector: Any, runner: Any, *, top: int = 5, budget: int = 0,
         labels: Any = None, seed: int = 0, probe_rows: int = PROBE_ROWS,
         metafeatures: dict[str, float] | None = None, judge: bool = True,
         resolve_first: int | None = None) -> Ranking:
    """The ``top`` best configurations of ``kb`` for table ``X`` (validated, writable), best
    first, according to the fitted ``selector``.

    ``runner`` (a ``running.backend_runner.BackendRunner``) runs backends for probes, few-label evidence
    and plugins' parameter resolution. ``budget``: configurations the selector may run on a
    sample of at most ``probe_rows`` rows; ``labels``: a few known labels (one per row, -1 or
    empty = unknown); ``metafeatures``: the table's ``metafeatures.extract(X, seed=seed)``
    when the caller has it already (computed here otherwise)."""
    from ..selectors.base import Query
    from ..selectors.few_shot import blend_observed, score_on_labels
    from .feasibility import feasible_mask

    if int(top) < 1:
        raise ConfigError(f"top must be at least 1, got {top}")
    if int(budget) < 0:
        raise ConfigError(f"budget must be 0 or more, got {budget}")
    n = X.shape[0]
    codes = None if labels is None else labels_to_codes(labels, n)
    session = TableSession(kb=kb, X=X, runner=runner, seed=seed, probe_rows=int(probe_rows), budget=int(budget))
    runner.new_table(X)
    feasible = feasible_mask(kb, n, runner.registry)
    if not feasible.any():
        raise KnowledgeBaseError("no configuration of the knowledge base can run here: their backends are not "
                                 "installed or the table is too small; see `metaclust plugins`")
    known = codes >= 0 if codes is not None else None
    if known is not None and known.sum() > session.probe_rows:  # adaptation runs on the labelled rows:
        rng = np.random.default_rng(seed)                         # keep its cost bounded
        keep = rng.choice(np.flatnonzero(known), session.probe_rows, replace=False)
        codes = np.where(np.isin(np.arange(n), keep), codes, -1)
        known = codes >= 0
    if metafeatures is None:
        from .. import metafeatures as mf

        metafeatures = mf.extract(X, seed=seed)
    vec, missing = metafeature_vector(kb, metafeatures)
    if missing:
        warnings.warn(missing_message(missing), stacklevel=3)
    session.metafeatures = vec
    judged = _judge_for(kb, selector, int(budget)) if judge else None
    query = Query(metafeatures=vec, X=X, probe=session.probe, budget=0 if judged is not None else int(budget),
                  labels=codes if codes is not None and known.any() else None, seed=seed, feasible=feasible,
                  run=(lambda c: session.run_for_labels(c, known)) if known is not None else None)
    labelled: dict[int, float] = {}
    scores = np.asarray(selector.predict_scores(query), dtype=np.float64)
    name = getattr(selector, "name", "?")
    if scores.shape != (len(kb.configs),):
        raise KnowledgeBaseError(f"selector {name!r} returned {scores.shape} scores for "
                                 f"{len(kb.configs)} configurations")
    first = ranked_first(selector, len(kb.configs))
    priority = np.zeros(len(kb.configs))
    if judged is not None:
        priority = judge_candidates(judged, session, scores, first, feasible,
                                    min(int(budget), MAX_CANDIDATES))
    elif int(budget) > 0 and session.indices:  # probes judged by the learned validity index
        from ..selectors.validity import rescore_probes

        scores = rescore_probes(kb, scores, session.indices)
    if query.labels is not None and not getattr(selector, "adapts_to_labels", False):
        # selectors that do not learn from labels still profit from them: score the best few
        # configurations on the known rows and move their scores towards what was observed
        found = score_on_labels(query, kb, scores, feasible & first if (feasible & first).any() else feasible)
        if found is not None:
            scores = blend_observed(scores, found[0], found[1], found[2])
            labelled = dict(zip(found[0], found[1].tolist()))
    adaptation = getattr(selector, "last_adaptation_", None) if query.labels is not None else None
    if adaptation:
        labelled = dict(zip(adaptation["configs"], adaptation["observed"]))
    scores = np.where(feasible & np.isfinite(scores), scores, -np.inf)
    # a selector's robust sub-portfolio (and whatever was seen to work here) ranks first, the rest behind
    first = first.copy()
    first[list(session.indices) + list(labelled)] = True
    order = [int(c) for c in np.lexsort((-scores, ~first, -priority)) if np.isfinite(scores[c])]
    out: list[Recommendation] = []
    seen: set[str] = set()
    backend_error: BackendError | None = None
    explain = getattr(selector, "explain", None)
    for c in order:
        if len(out) >= int(top):
            break
        cfg = kb.configs[c]
        params = session.probed_params(c)
        try:
            # fallbacks beyond ``resolve_first`` keep their scale-free parameters: resolving a
            # k rule costs a search over k, and a fallback rarely runs (the run resolves it then)
            lazy = resolve_first is not None and len(out) >= int(resolve_first)
            resolved = params if lazy else session.resolve(cfg.algorithm, params)
        except BackendError as exc:
            backend_error = exc  # cannot run on this table (or its plugin failed here)
            continue
        except ConfigError:
            continue  # cannot run on this table
        key = repr(sorted((k, repr(v)) for k, v in resolved.items())) + cfg.algorithm
        if key in seen:  # two scale-free configurations that mean the same here
            continue
        seen.add(key)
        from ..trust.reasons import describe_choice

        reason = "; ".join(r for r in ((explain(query, c) if explain is not None else ""),
                                       describe_choice(kb, vec, c)) if r)
        probed = session.indices.get(c)
        if probed:
            reason += (f"; ran it on {session.sample.size} rows: {int(probed['n_clusters'])} clusters, "
                       f"silhouette {probed['silhouette']:.2f}")
        if c in session.judged:
            reason += f"; the probe judge ranks it {session.judged.index(c) + 1} of the {len(session.judged)} run"
        if c in labelled:
            reason += f"; ARI {labelled[c]:.2f} on the {int(known.sum())} known labels"
        out.append(Recommendation(rank=len(out) + 1, algorithm=cfg.algorithm, params=params,
                                  resolved=resolved, predicted_score=float(np.clip(scores[c], -1.0, 1.0)),
                                  reason=reason, config_id=cfg.id, selector=name, probed=probed))
    session.transforms.clear()  # do not keep transformed copies of the table
    if not out and backend_error is not None:
        raise BackendError(f"none of the recommended configurations can run on this table: {backend_error}")
    if not out:
        raise KnowledgeBaseError("none of the recommended configurations can run on this table")
    return Ranking(recommendations=out, session=session, labelled_scores=labelled)
