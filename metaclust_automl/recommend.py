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
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BackendError, ConfigError, DataError, KnowledgeBaseError
from .isolation import DEFAULT_TIME_LIMIT, BackendRunner
from .knowledge_base import KnowledgeBase

#: the selector used when none is named: the best of bench/recommend.py (see README)
DEFAULT_SELECTOR = "maml"
#: probes run on at most this many rows, so a budget costs the same on any table size
PROBE_ROWS = 2000
#: parameters are resolved on at most this many rows for backends that would use every row
RESOLVE_ROWS = 100_000


def shipped_weights_path() -> Path:
    """Where the weights shipped with the package live (one directory per selector)."""
    return Path(__file__).resolve().parent / "data" / "selectors"


@dataclass
class Recommendation:
    """One ranked configuration for a table."""

    rank: int
    algorithm: str
    #: scale-free parameters, as stored in the knowledge base (they transfer across tables)
    params: dict[str, Any]
    #: the same parameters made concrete for this table (eps in data units, sizes in rows)
    resolved: dict[str, Any]
    #: the selector's predicted quality on the ARI scale, clipped to [-1, 1] (higher is better;
    #: the ranking itself uses the unclipped scores)
    predicted_score: float
    reason: str = ""
    config_id: str = ""
    selector: str = ""
    #: internal indices observed when the selector ran this configuration (None if it did not)
    probed: dict[str, float] | None = None

    def to_estimator(self, random_state: int = 0) -> Any:
        """A scikit-learn clusterer that runs this configuration (scale-free parameters, so
        it resolves them again on whatever table it is fitted on)."""
        from .estimator import BackendClusterer

        return BackendClusterer(algorithm=self.algorithm, params=dict(self.params), random_state=random_state)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


@dataclass
class _TableSession:
    """Runs made on one table during one recommendation (probes are cached)."""

    X: np.ndarray
    seed: int
    probe_rows: int
    sample: np.ndarray = field(init=False)
    indices: dict[int, dict[str, float]] = field(default_factory=dict)
    labels: dict[int, np.ndarray] = field(default_factory=dict)
    #: the table transformed per (preprocessing, seed): configurations share one transform
    transforms: dict[Any, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        rng = np.random.default_rng(self.seed)
        self.sample = np.arange(n) if n <= self.probe_rows else np.sort(rng.choice(n, self.probe_rows, replace=False))


def _labels_to_codes(labels: Any, n: int) -> np.ndarray:
    """Few-shot labels: one per row; missing, empty, NaN or -1 mean unknown (coded -1)."""
    from .corpus.tasks import encode_labels

    raw = np.asarray(labels, dtype=object).reshape(-1)
    if raw.shape[0] != n:
        raise DataError(f"{raw.shape[0]} labels for {n} rows; give one label per row (empty = unknown)")
    unknown = [-1, "-1", "", "-1.0", -1.0]
    return encode_labels(raw, noise_values=unknown)


class Recommender:
    """Ranks a knowledge base's configurations for new tables with one selector."""

    def __init__(self, kb: KnowledgeBase, selector: Any, *, probe_rows: int = PROBE_ROWS,
                 time_limit: float | None = DEFAULT_TIME_LIMIT) -> None:
        self.kb = kb
        self.selector = selector
        self.probe_rows = int(probe_rows)
        self.session: _TableSession | None = None
        #: runs backends: built-ins in process, plugins' in a worker with ``time_limit`` seconds
        self.runner = BackendRunner(time_limit)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def default(cls, selector: str | None = None, kb: str | os.PathLike | KnowledgeBase | None = None,
                weights: str | os.PathLike | None = None, *,
                time_limit: float | None = DEFAULT_TIME_LIMIT) -> Recommender:
        """The shipped knowledge base (or ``kb``) with the default selector (or ``selector``),
        using fitted weights from ``weights``, the knowledge base's directory or the package.
        ``time_limit``: seconds each run of a plugin's backend may take (None = no limit)."""
        from .knowledge_base import load_default

        if isinstance(kb, KnowledgeBase):
            base = kb
        elif kb is None:
            base = load_default()
        else:
            base = KnowledgeBase.load(kb)
        return cls(base, load_selector(selector or DEFAULT_SELECTOR, base, weights), time_limit=time_limit)

    # -- ranking ----------------------------------------------------------------------------
    def metafeature_vector(self, X: np.ndarray, seed: int = 0) -> np.ndarray:
        """The table's meta-features in the knowledge base's order. Features the knowledge base
        has but no installed plugin computes take the knowledge base's median (with a warning)."""
        from . import metafeatures

        values = metafeatures.extract(X, seed=seed)
        names = self.kb.metafeature_names
        missing = [n for n in names if n not in values]
        if missing:
            warnings.warn(f"{len(missing)} meta-features of the knowledge base are not computed by the installed "
                          f"plugins ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); "
                          "using the knowledge base's median for them", stacklevel=2)
        med = np.median(self.kb.M, axis=0)
        vec = np.array([values.get(n, med[i]) for i, n in enumerate(names)], dtype=np.float64)
        return clip_to_kb_range(vec, self.kb.M)

    def _registry(self) -> Any:
        from .plugins import get_registry

        return get_registry()

    def _probe(self, c: int) -> dict[str, float]:
        """Run configuration c on the probe sample and return its internal indices."""
        from .metrics import INDEX_NAMES, internal_indices

        s = self.session
        assert s is not None
        if c in s.indices:
            return s.indices[c]
        cfg = self.kb.configs[c]
        Xs = s.X[s.sample]
        start = time.perf_counter()
        try:
            run = self.runner.run(cfg.algorithm, s.X, cfg.params, seed=s.seed, rows=s.sample)
            s.labels[c] = run.labels
            idx = internal_indices(Xs, run.labels, seed=s.seed)
        except BackendError:
            idx = {"silhouette": -1.0, "calinski_harabasz": 0.0, "davies_bouldin": 10.0, "n_clusters": 0.0,
                   "noise_share": 1.0}
        s.seconds += time.perf_counter() - start
        s.indices[c] = {k: float(idx.get(k, 0.0)) for k in INDEX_NAMES}
        return s.indices[c]

    def _run_for_labels(self, c: int, known: np.ndarray) -> np.ndarray:
        """Labels of configuration c for every row; rows outside the run sample (never the
        labelled ones) get -1."""
        s = self.session
        assert s is not None
        n = s.X.shape[0]
        rows = np.union1d(s.sample, np.flatnonzero(known))
        cfg = self.kb.configs[c]
        out = np.full(n, -1, dtype=np.int64)
        try:
            out[rows] = self.runner.run(cfg.algorithm, s.X, cfg.params, seed=s.seed, rows=rows).labels
        except BackendError:
            out[rows] = -1
        return out

    def recommend(self, X: Any, top: int = 5, budget: int = 0, labels: Any = None, seed: int = 0
                  ) -> list[Recommendation]:
        """The ``top`` best configurations for table ``X``, best first."""
        from .selectors.base import Query
        from .selectors.common import feasible_mask
        from .validation import check_matrix

        if int(top) < 1:
            raise ConfigError(f"top must be at least 1, got {top}")
        if int(budget) < 0:
            raise ConfigError(f"budget must be 0 or more, got {budget}")
        X = check_matrix(X)
        if not X.flags.writeable:  # some backends (hdbscan) fail on read-only memory maps
            X = np.array(X)
        n = X.shape[0]
        codes = None if labels is None else _labels_to_codes(labels, n)
        self.session = _TableSession(X=X, seed=seed, probe_rows=self.probe_rows)
        self.runner.new_table(X)
        feasible = feasible_mask(self.kb, n, self._registry())
        if not feasible.any():
            raise KnowledgeBaseError("no configuration of the knowledge base can run here: their backends are not "
                                     "installed or the table is too small; see `metaclust plugins`")
        known = codes >= 0 if codes is not None else None
        if known is not None and known.sum() > self.probe_rows:  # adaptation runs on the labelled rows:
            rng = np.random.default_rng(seed)                      # keep its cost bounded
            keep = rng.choice(np.flatnonzero(known), self.probe_rows, replace=False)
            codes = np.where(np.isin(np.arange(n), keep), codes, -1)
            known = codes >= 0
        query = Query(metafeatures=self.metafeature_vector(X, seed), X=X, probe=self._probe,
                      budget=int(budget), labels=codes if codes is not None and known.any() else None,
                      seed=seed, feasible=feasible,
                      run=(lambda c: self._run_for_labels(c, known)) if known is not None else None)
        self.labelled_scores: dict[int, float] = {}
        self.last_metafeatures = query.metafeatures  # for the confidence (trust/) and the reasons
        scores = np.asarray(self.selector.predict_scores(query), dtype=np.float64)
        if scores.shape != (len(self.kb.configs),):
            raise KnowledgeBaseError(f"selector {self.selector.name!r} returned {scores.shape} scores for "
                                     f"{len(self.kb.configs)} configurations")
        if query.labels is not None and not getattr(self.selector, "adapts_to_labels", False):
            # selectors that do not learn from labels still profit from them: score the best few
            # configurations on the known rows and move their scores towards what was observed
            from .selectors.common import blend_observed, score_on_labels

            found = score_on_labels(query, self.kb, scores, feasible)
            if found is not None:
                scores = blend_observed(scores, found[0], found[1], found[2])
                self.labelled_scores = dict(zip(found[0], found[1].tolist()))
        adaptation = getattr(self.selector, "last_adaptation", None) if query.labels is not None else None
        if adaptation:
            self.labelled_scores = dict(zip(adaptation["configs"], adaptation["observed"]))
        scores = np.where(feasible & np.isfinite(scores), scores, -np.inf)
        order = [int(c) for c in np.argsort(-scores, kind="stable") if np.isfinite(scores[c])]
        out: list[Recommendation] = []
        seen: set[str] = set()
        backend_error: BackendError | None = None
        for c in order:
            if len(out) >= int(top):
                break
            cfg = self.kb.configs[c]
            try:
                resolved = self.resolve(X, cfg.algorithm, cfg.params, seed)
            except BackendError as exc:
                backend_error = exc  # cannot run on this table (or its plugin failed here)
                continue
            except ConfigError:
                continue  # cannot run on this table
            key = repr(sorted((k, repr(v)) for k, v in resolved.items())) + cfg.algorithm
            if key in seen:  # two scale-free configurations that mean the same here
                continue
            seen.add(key)
            from .trust.reasons import describe_choice

            reason = f"{self.selector.explain(query, c)}; {describe_choice(self.kb, query.metafeatures, c)}"
            probed = self.session.indices.get(c)
            if probed:
                reason += (f"; ran it on {self.session.sample.size} rows: {int(probed['n_clusters'])} clusters, "
                           f"silhouette {probed['silhouette']:.2f}")
            if c in self.labelled_scores:
                reason += f"; ARI {self.labelled_scores[c]:.2f} on the {int(known.sum())} known labels"
            out.append(Recommendation(rank=len(out) + 1, algorithm=cfg.algorithm, params=dict(cfg.params),
                                      resolved=resolved, predicted_score=float(np.clip(scores[c], -1.0, 1.0)),
                                      reason=reason,
                                      config_id=cfg.id, selector=self.selector.name, probed=probed))
        self.session.transforms.clear()  # do not keep transformed copies of the table
        if not out and backend_error is not None:
            raise BackendError(f"none of the recommended configurations can run on this table: {backend_error}")
        if not out:
            raise KnowledgeBaseError("none of the recommended configurations can run on this table")
        self.runner.release()
        return out

    def resolve(self, X: np.ndarray, algorithm: str, params: dict[str, Any], seed: int = 0) -> dict[str, Any]:
        """Concrete parameters for this table, computed the way ``Backend.run`` will (on the same
        sample when the backend fits on a sample; on a bounded sample for huge tables). A plugin's
        backend computes them in the guarded worker: BackendError if it fails or hangs there."""
        if self.runner.isolates(algorithm):
            return self.runner.resolve(algorithm, X, params, seed)
        s = self.session
        cache = s.transforms if s is not None and s.X is X else None
        return resolve_params(self._registry().backend(algorithm), X, params, seed, cache=cache)

    def cluster(self, X: Any, *, budget: int = 0, labels: Any = None, seed: int = 0, fallbacks: int = 2
                ) -> tuple[Recommendation, Any, list[Recommendation]]:
        """Recommend, then run the best configuration on the whole table; when it fails there
        (out of memory, a degenerate table, a plugin's backend that raises or hangs), run the
        next one. Returns (the recommendation that ran, its ``ClusterRun``, the ranked
        recommendations); the run's notes say what failed.

        A plugin's backend that hung or crashed is not started again on this table; when that
        leaves no candidate, the ranking is made once more without it and its next candidates
        run. BackendError when nothing could run."""
        from .validation import check_matrix

        X = check_matrix(X)
        if not X.flags.writeable:
            X = np.array(X)  # one array for every step: the runner sees one table
        try:
            return self._cluster(X, budget, labels, seed, 1 + max(0, int(fallbacks)))
        finally:
            self.runner.release()

    def _cluster(self, X: np.ndarray, budget: int, labels: Any, seed: int, top: int
                 ) -> tuple[Recommendation, Any, list[Recommendation]]:
        recs = self.recommend(X, top=top, budget=budget, labels=labels, seed=seed)
        failures: list[str] = []
        tried: set[str] = set()
        for again in (False, True):
            for rec in recs:
                if rec.config_id in tried:
                    continue
                tried.add(rec.config_id)
                try:
                    run = self.run_best(X, rec, seed=seed)
                except BackendError as exc:
                    failures.append(f"rank {rec.rank} ({rec.algorithm}) failed on the whole table: {exc}")
                    continue
                run.notes[:0] = failures
                return rec, run, recs
            if again or not any(r.algorithm in self.runner.broken for r in recs):
                break
            try:  # the broken plugin's configurations drop out of this ranking
                recs = self.recommend(X, top=top + len(tried), budget=budget, labels=labels, seed=seed)
            except (BackendError, KnowledgeBaseError):
                break
        raise BackendError(f"none of the {len(tried)} recommended configurations tried ran on this table: "
                           + ("; ".join(failures) or "no recommendation"))

    def run_best(self, X: Any, recommendation: Recommendation, seed: int = 0) -> Any:
        """Run a recommendation on the whole table (a ``ClusterRun``)."""
        from .validation import check_matrix

        X = check_matrix(X)
        if not X.flags.writeable:
            X = np.array(X)
        return self.runner.run(recommendation.algorithm, X, recommendation.params, seed=seed)


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


def resolve_params(backend: Any, X: np.ndarray, params: dict[str, Any], seed: int = 0,
                   cache: dict[Any, np.ndarray] | None = None) -> dict[str, Any]:
    """What :meth:`Recommender.resolve` computes, for one backend object (module level, so
    that the guarded worker can run it for a plugin's backend). ``cache`` holds the
    transformed table per preprocessing: several configurations share one transform."""
    from . import preprocess

    p = backend.validate(params)
    n = X.shape[0]
    limit = backend.max_fit_rows if backend.max_fit_rows is not None else RESOLVE_ROWS
    key = (p["preprocess"], seed)
    if cache is None or key not in cache:
        Xp = preprocess.apply(X, p["preprocess"], seed=seed)
        if cache is not None:
            cache[key] = Xp
    else:
        Xp = cache[key]
    if n > limit:
        rng = np.random.default_rng(seed)
        Xp = Xp[np.sort(rng.choice(n, limit, replace=False))]
    resolved = backend.resolve(Xp, p)
    return _jsonable({k: v for k, v in resolved.items()})


def load_selector(name: str, kb: KnowledgeBase, weights: str | os.PathLike | None = None) -> Any:
    """A fitted selector for ``kb``: saved weights when some match this knowledge base,
    otherwise fitted now (with a warning when that takes long)."""
    from .plugins import get_registry
    from .selectors.common import StaleWeightsError

    factory = get_registry().selector(name)
    fresh = factory()
    cls = type(fresh)
    candidates = []
    if weights is not None:
        w = Path(weights)
        candidates.append(w / name if (w / name).is_dir() else w)
    if kb.path is not None:
        candidates.append(Path(kb.path) / "selectors" / name)
    candidates.append(shipped_weights_path() / name)
    stale: list[str] = []
    for d in candidates:
        if not d.is_dir():
            continue
        try:
            return cls.load(d, kb)
        except StaleWeightsError as exc:
            stale.append(str(exc))
        except NotImplementedError:
            break
    if weights is not None and not stale and not Path(weights).exists():
        raise KnowledgeBaseError(f"selector weights not found: {weights}")
    if name != "knn":  # knn fits in milliseconds; the networks take a while
        why = stale[0] if stale else f"no saved {name} weights for this knowledge base"
        warnings.warn(f"{why}; fitting the {name} selector now (save it with `metaclust train-selectors`)",
                      stacklevel=2)
    return fresh.fit(kb, seed=0)
