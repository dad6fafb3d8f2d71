"""Scoring every method on one labelled task, and every task of a corpus.

A method is a selector (its top-1 configuration, run on the whole table), a selector
with a probing budget, a blind baseline, or the ceiling (the best configuration of the
knowledge base for the task, chosen with the labels: known only for tasks the knowledge
base holds). Each yields one :class:`Result` row: ACC, NMI and ARI against the reference
labels (label -1 is not scored), the seconds a user would wait, and what was run.

Selectors are fitted once per distinct training set (see :mod:`.leave_one_out`), never
on the task they are scored on.
"""
from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, KnowledgeBaseError, MetaclustError
from ..running.backend_runner import DEFAULT_TIME_LIMIT
from ..knowledge_base import KnowledgeBase
from ..metrics import external_scores
from ..recommend.ranking import MISSING_PATTERN, missing_message
from ..recommend.weights import find_saved, weight_dirs
from ..selectors.base import fit_seeded
from .baselines import BASELINES, on_sample
from .leave_one_out import training_indices

#: above this many rows the searching baselines run on a sample (see baselines.on_sample)
DEFAULT_MAX_ROWS = 10_000
#: baselines whose cost is bounded by sampling on big tables; HDBSCAN defaults run on every row
SAMPLED_BASELINES = ("dbscan_default", "kmeans_silhouette", "optuna_silhouette")

KIND_SELECTOR, KIND_BASELINE, KIND_CEILING = "selector", "baseline", "ceiling"


@dataclass
class Result:
    """One task x method."""

    task: str
    group: str
    n: int
    d: int
    k_true: int
    method: str
    kind: str
    acc: float = float("nan")
    nmi: float = float("nan")
    ari: float = float("nan")
    seconds: float = float("nan")
    fit_seconds: float = float("nan")
    n_clusters: int = -1
    algorithm: str = ""
    params: str = ""
    probes: int = 0
    sampled: bool = False
    error: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and np.isfinite(self.ari)


FIELDS = [f.name for f in dataclasses.fields(Result)]


def score(y: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ACC, NMI and ARI; reference label -1 is not scored, predicted noise is one cluster."""
    return external_scores(y, labels, ignore_label=-1)


def _scores(y: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    s = score(y, labels)
    return s["acc"], s["nmi"], s["ari"]


def _n_clusters(labels: np.ndarray) -> int:
    return int(np.unique(labels[labels >= 0]).size)


def _params_json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


# -- the knowledge base's side -----------------------------------------------------------

def ceiling(kb: KnowledgeBase, task_id: str) -> tuple[int, dict[str, float]] | None:
    """The configuration with the best ARI for ``task_id`` and its scores, or None when the
    knowledge base does not hold the task. Failed runs count as 0."""
    ids = kb.task_ids
    if task_id not in ids:
        return None
    t = ids.index(task_id)
    c = int(np.argmax(kb.performance("ari")[t]))
    return c, {m: float(kb.performance(m)[t, c]) for m in ("acc", "nmi", "ari")}


def run_selector(selector: Any, kb: KnowledgeBase, X: np.ndarray, runner: Any, *, budget: int = 0, seed: int = 0,
                 metafeatures: dict[str, float] | None = None) -> dict[str, Any]:
    """What ``metaclust cluster`` runs on table X with this fitted selector and knowledge base:
    the same ranking (``recommend.rank``) and the same fallbacks (``Recommender.cluster``), on
    ``runner`` (shared across tasks). Returns the labels, the configuration, the number of
    probes and the seconds spent (without meta-features when they are given)."""
    from ..recommend import Recommender

    start = time.perf_counter()
    rec = Recommender(kb, selector, runner=runner)
    chosen, run, _ = rec.cluster(X, budget=budget, seed=seed, metafeatures=metafeatures)
    config = next(c for c in kb.configs if c.id == chosen.config_id)
    return {"labels": run.labels, "config": config, "probes": rec.session.probes if rec.session else 0,
            "seconds": time.perf_counter() - start}


def run_baseline(name: str, X: np.ndarray, *, seed: int = 0, trials: int = 50,
                 max_rows: int | None = DEFAULT_MAX_ROWS) -> dict[str, Any]:
    """Labels of baseline ``name`` (sampled above ``max_rows`` rows where its cost demands)."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; known baselines: {', '.join(BASELINES)}")
    kwargs: dict[str, Any] = {"trials": int(trials)} if name == "optuna_silhouette" else {}
    start = time.perf_counter()
    limit = max_rows if name in SAMPLED_BASELINES else None
    labels, note = on_sample(BASELINES[name], X, limit, seed=seed, **kwargs)
    return {"labels": labels, "note": note, "seconds": time.perf_counter() - start}


# -- a whole corpus ----------------------------------------------------------------------

@dataclass
class Plan:
    """What to evaluate and how."""

    selectors: Sequence[str] = ()
    baselines: Sequence[str] = ()
    kb: KnowledgeBase | None = None
    #: hold out the evaluated task's group as well as the task (leave-one-group-out)
    by_group: bool = False
    budget: int = 0
    trials: int = 50
    seed: int = 0
    max_rows: int | None = DEFAULT_MAX_ROWS
    #: factory(name) -> unfitted selector; default: the plugin registry
    selector_factory: Callable[[str], Any] | None = None
    #: directories holding saved selector weights (``DIR/NAME``), tried before the knowledge
    #: base's ``selectors/NAME`` and the package's; used only when a selector is fitted on the
    #: whole knowledge base and the weights match it
    weights_dirs: Sequence[str | Path] = ()
    #: threads for BLAS/OpenMP inside every method (1: methods compare on equal terms, and
    #: OpenMP's busy-waiting does not multiply wall time on a shared machine)
    threads: int | None = 1
    #: seconds each run of a plugin's (third-party) backend may take (None = no limit);
    #: built-in backends run in process, unlimited
    time_limit: float | None = DEFAULT_TIME_LIMIT
    notes: list[str] = field(default_factory=list)


class _FitCache:
    """Selectors fitted once per (name, training set): with leave-one-group-out every task
    of a group shares one fit; with an unrelated knowledge base every task shares one.

    When the training set is the whole knowledge base, saved weights fitted on exactly that
    knowledge base (``recommend.weight_dirs``: ``KB_DIR/selectors/NAME`` or the package's) are loaded instead of
    fitting again; a selector checks that they match (a fingerprint of the knowledge base)
    and refuses stale ones, which are then refitted. Weights are never used for a subset:
    they were fitted with the held-out tasks."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.fits: dict[tuple[str, tuple[int, ...]], tuple[Any, KnowledgeBase, float, str]] = {}

    def get(self, name: str, train: np.ndarray) -> tuple[Any, KnowledgeBase, float, str]:
        key = (name, tuple(int(i) for i in train))
        if key not in self.fits:
            kb = self.plan.kb
            assert kb is not None
            whole = train.size == len(kb.tasks)
            sub = kb if whole else kb.subset(train)
            factory = self.plan.selector_factory or _registry_factory
            start = time.perf_counter()
            selector = factory(name)
            saved, where, _ = (find_saved(type(selector), kb, weight_dirs(name, kb, self.plan.weights_dirs),
                                          lenient=True) if whole else (None, None, []))
            if saved is not None:
                selector, how = saved, f"weights loaded from {where}"
            else:
                selector, how = fit_seeded(selector, sub, self.plan.seed), f"fitted on {len(sub.tasks)} tasks"
            self.fits[key] = (selector, sub, time.perf_counter() - start, how)
        return self.fits[key]


def _registry_factory(name: str) -> Any:
    from ..plugins import get_registry

    return get_registry().selector(name)()


def evaluate_task(task: Any, plan: Plan, fits: _FitCache | None = None, runner: Any = None) -> list[Result]:
    """Every method of ``plan`` on one labelled task (``task.id``, ``.group``, ``.X``, ``.y``).
    Plugins' backends run under ``runner`` (default: one with ``plan.time_limit``)."""
    from .. import metafeatures
    from ..running.backend_runner import BackendRunner

    if runner is None:
        with BackendRunner(plan.time_limit) as own:
            return evaluate_task(task, plan, fits, own)

    X = np.ascontiguousarray(task.X, dtype=np.float64)
    y = np.asarray(task.y)
    n, d = X.shape
    base = dict(task=task.id, group=getattr(task, "group", ""), n=n, d=d,
                k_true=int(np.unique(y[y >= 0]).size))
    out: list[Result] = []
    kb = plan.kb
    if kb is not None:
        best = ceiling(kb, task.id)
        if best is not None:
            c, sc = best
            cfg = kb.configs[c]
            out.append(Result(**base, method="ceiling", kind=KIND_CEILING, **sc, algorithm=cfg.algorithm,
                              params=_params_json(cfg.params), note="best configuration for this task, chosen "
                              "with its labels (from the knowledge base)"))
    if plan.selectors:
        if kb is None:
            raise KnowledgeBaseError("selectors need a knowledge base: pass --kb DIR or --leave-one-out")
        fits = fits or _FitCache(plan)
        budgets = [0] + ([plan.budget] if plan.budget > 0 else [])
        methods = [(name, b, name if b == 0 else f"{name}@{b}") for name in plan.selectors for b in budgets]
        try:  # what every selector needs; if it fails, each selector's row says why
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values = metafeatures.extract(X, seed=plan.seed)
            missing = [n for n in kb.metafeature_names if n not in values]
            mf_seconds = time.perf_counter() - start
            train = training_indices(kb.task_ids, [t.group for t in kb.tasks], task.id, base["group"],
                                     by_group=plan.by_group)
        except MetaclustError as exc:
            out += [Result(**base, method=m, kind=KIND_SELECTOR, error=f"{type(exc).__name__}: {exc}")
                    for _, _, m in methods]
            methods = []
            missing = []
        if missing:
            msg = missing_message(missing)
            if msg not in plan.notes:
                plan.notes.append(msg)
        for name, budget, method in methods:
            row = Result(**base, method=method, kind=KIND_SELECTOR)
            try:
                selector, sub, fit_seconds, how = fits.get(name, train)
                row.fit_seconds, row.note = fit_seconds, how
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=MISSING_PATTERN)  # said once in the notes
                    got = run_selector(selector, sub, X, runner, budget=budget, seed=plan.seed, metafeatures=values)
            except Exception as exc:  # noqa: BLE001 - one method failing on one task is a result
                row.error = f"{type(exc).__name__}: {exc}"
                out.append(row)
                continue
            row.acc, row.nmi, row.ari = _scores(y, got["labels"])
            row.seconds = mf_seconds + got["seconds"]
            row.n_clusters = _n_clusters(got["labels"])
            row.algorithm, row.params = got["config"].algorithm, _params_json(got["config"].params)
            row.probes = got["probes"]
            out.append(row)
    for name in plan.baselines:
        row = Result(**base, method=name, kind=KIND_BASELINE)
        try:
            got = run_baseline(name, X, seed=plan.seed, trials=plan.trials, max_rows=plan.max_rows)
        except Exception as exc:  # noqa: BLE001
            row.error = f"{type(exc).__name__}: {exc}"
            out.append(row)
            continue
        row.acc, row.nmi, row.ari = _scores(y, got["labels"])
        row.seconds = got["seconds"]
        row.n_clusters = _n_clusters(got["labels"])
        row.sampled, row.note = bool(got["note"]), got["note"]
        out.append(row)
    return out


def evaluate_corpus(tasks: Sequence[Any], plan: Plan, *, progress: bool = True) -> list[Result]:
    """Every method of ``plan`` on every task, with a progress bar on stderr."""
    from threadpoolctl import threadpool_limits

    if plan.selectors and plan.kb is None:
        raise KnowledgeBaseError("selectors need a knowledge base: pass --kb DIR or --leave-one-out")
    from ..running.backend_runner import BackendRunner

    fits = _FitCache(plan)
    results: list[Result] = []
    with threadpool_limits(limits=plan.threads), BackendRunner(plan.time_limit) as runner:
        if not progress:
            for task in tasks:
                results.extend(evaluate_task(task, plan, fits, runner))
            return results
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            job = bar.add_task("evaluating", total=len(tasks))
            for task in tasks:
                bar.update(job, description=f"evaluating {task.id}")
                results.extend(evaluate_task(task, plan, fits, runner))
                bar.advance(job)
            bar.update(job, description="evaluated")
    return results
