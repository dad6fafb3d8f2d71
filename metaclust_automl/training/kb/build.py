"""``build_knowledge_base``: the whole meta-training run, from labelled tasks to a KB directory.

Phases, each resumable and shared through the storage (see :mod:`.runner`):

1. meta-features of every task (guarded: a plugin's feature group may hang);
2. search: one Optuna study per task x backend, ``trials`` slots each (:mod:`.studies`);
3. portfolio: selected from the finished studies, then every configuration run on
   every task with internal indices (:mod:`.portfolio`);

then the knowledge base is assembled from the storage and written atomically: an
interrupted run leaves the storage resumable and never a half-valid KB directory.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...backends.noise import DEFAULT_NOISE
from ...errors import ConfigError, DataError
from ...knowledge_base import STATUS, Config, KnowledgeBase, Task
from .portfolio import Candidate, portfolio_digest, portfolio_phase, select_portfolio
from .runner import Phase, Reporter, Settings, StudyJob, WorkerContext, metafeature_limit, record, run_phase
from .samplers import SAMPLERS
from .slots import OUTCOME, RESULT, finished_by_slot
from .studies import PREFIX, collect_search, search_phase, study_summaries
from .tasks import PreparedTask, prepare_tasks, set_tasks, task_arrays

#: how a knowledge base's rows score a configuration (what ``metaclust cluster`` delivers)
SCORING = ("reference label -1 not scored; predicted noise rows take their nearest cluster's label "
           "(noise=assign) before scoring; internal indices describe the partition with its noise")

#: backends searched when none are named: cheap enough for the shipped build
DEFAULT_BACKENDS = ("kmeans", "gmm", "agglomerative", "dbscan", "hdbscan", "birch")
DEFAULT_TRIALS = 20
DEFAULT_TIME_LIMIT = 60.0
DEFAULT_PORTFOLIO_SIZE = 80


# -- phase 1: meta-features -------------------------------------------------------------

def metafeature_phase(tasks: list[PreparedTask], settings: Settings, names: list[str]) -> Phase:
    digest = hashlib.sha256(json.dumps(names).encode()).hexdigest()[:12]
    jobs = [StudyJob(name=f"{PREFIX}/metafeatures/{digest}/{t.id}",
                     attrs={"kind": "metafeatures", "task": t.id, "task_digest": t.digest,
                            "seed": settings.seed, "n": t.n},
                     n_slots=1, task=i) for i, t in enumerate(tasks)]
    return Phase("metafeatures", "meta-features", jobs, run_metafeature_slot,
                 time_limit=metafeature_limit(settings.time_limit))


def run_metafeature_slot(ctx: WorkerContext, job: StudyJob, slot: int, trial_id: int) -> str:
    outcome = ctx.guard.call("metaclust_automl.training.kb.tasks:metafeatures_job",
                             {"task": job.task, "seed": ctx.settings.seed},
                             task_arrays(job.task, ctx.inherits, whole=True))
    if not outcome.ok:
        return record(ctx.storage, trial_id, outcome.status, None, {"error": outcome.error})
    return record(ctx.storage, trial_id, "ok", 0.0, outcome.result)


def collect_metafeatures(storage: Any, phase: Phase, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """M[task, feature]; a task whose extraction failed gets zeros (and is listed)."""
    M = np.zeros((len(phase.jobs), len(names)))
    failed: list[str] = []
    for job in phase.jobs:
        t = finished_by_slot(storage.get_all_trials(job.study_id, deepcopy=False), 1).get(0)
        result = t.user_attrs.get(RESULT, {}) if t is not None else {}
        if t is None or t.user_attrs.get(OUTCOME) or result.get("names") != names:
            failed.append(str(job.attrs["task"]))
            continue
        row = np.asarray(result["values"], dtype=float)
        M[job.task] = np.where(np.isfinite(row), row, 0.0)
    return M, failed


# -- phase 3: the performance matrices ------------------------------------------------------

def collect_portfolio(storage: Any, phase: Phase, n_configs: int, index_names: Sequence[str]
                      ) -> dict[str, np.ndarray]:
    """P, C, seconds and status from the stored rows (NaN where a run failed or timed out)."""
    T, K, I = len(phase.jobs), n_configs, len(index_names)
    P = {m: np.full((T, K), np.nan) for m in ("ari", "nmi", "acc")}
    C = np.full((T, K, I), np.nan)
    seconds = np.zeros((T, K))
    status = np.full((T, K), STATUS["skipped"], dtype=np.int8)
    for job in phase.jobs:
        ti = job.task
        t = finished_by_slot(storage.get_all_trials(job.study_id, deepcopy=False), 1).get(0)
        row = t.user_attrs.get(RESULT, {}) if t is not None else {}
        if len(row.get("status", ())) != K:
            continue  # stays "skipped" (cannot happen after a complete phase)
        fill_portfolio_row(row, ti, range(K), P, C, seconds, status)
    return {"P_ari": P["ari"], "P_nmi": P["nmi"], "P_acc": P["acc"], "C": C, "seconds": seconds,
            "status": status}


def fill_portfolio_row(row: dict[str, Any], ti: int, cols: Sequence[int], P: dict[str, np.ndarray],
                       C: np.ndarray, seconds: np.ndarray, status: np.ndarray) -> None:
    """Write one stored portfolio row (its j-th run into column ``cols[j]``) into the arrays."""
    for j, col in enumerate(cols):
        seconds[ti, col] = float(row["seconds"][j] or 0.0)
        st = row["status"][j]
        status[ti, col] = STATUS["ok"] if st == "ok" else STATUS["timeout"] if st == "timeout" else STATUS["failed"]
        if st == "ok":
            for m in ("ari", "nmi", "acc"):
                P[m][ti, col] = float(row[m][j])
            C[ti, col] = np.asarray(row["indices"][j], dtype=float)


# -- the whole build -----------------------------------------------------------------------

def _check_args(trials: int, jobs: int, portfolio_size: int, time_limit: float | None, sampler: str,
                max_rows: int | None) -> None:
    if not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials must be a positive integer, got {trials!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs!r}")
    if not isinstance(portfolio_size, int) or portfolio_size < 1:
        raise ConfigError(f"--portfolio-size must be a positive integer, got {portfolio_size!r}")
    if time_limit is not None and not (time_limit > 0 and np.isfinite(time_limit)):
        raise ConfigError(f"--time-limit must be a positive number of seconds, got {time_limit!r}")
    if sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}; use one of: {', '.join(SAMPLERS)}")
    if max_rows is not None and max_rows < 50:
        raise ConfigError(f"--max-rows must be at least 50, got {max_rows}")


def _resolve_backends(backends: Sequence[str] | None) -> tuple[str, ...]:
    from ...plugins import get_registry

    registry = get_registry()
    names = tuple(dict.fromkeys(backends)) if backends else DEFAULT_BACKENDS
    if not names:
        raise ConfigError("no backends to search; name some with --backends")
    for name in names:
        registry.backend(name)  # raises ConfigError listing the known ones
    return names


def _warm_imports(backends: Sequence[str]) -> None:
    """Import what the guarded workers need once, before forking (a restart is then cheap;
    the backends import scikit-learn lazily, and a worker importing it itself could spend
    its time limit on the import on a busy machine)."""
    import sklearn.cluster  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.mixture  # noqa: F401
    import sklearn.neighbors  # noqa: F401

    from ... import metafeatures  # noqa: F401

    if "hdbscan" in backends:
        try:
            import hdbscan  # noqa: F401
        except ImportError:
            pass


def check_kb_output(out_dir: str | os.PathLike) -> Path:
    """The directory a knowledge base may be written to: a new one (its parent writable), an
    empty one, or an existing knowledge base (replaced whole when the new one is complete).

    Anything else is refused before any work, because the atomic swap that writes the
    knowledge base replaces the directory whole: the files in it would be deleted."""
    from ...atomic import check_output_dir
    from ...knowledge_base import is_knowledge_base

    out = Path(out_dir)
    try:
        check_output_dir(out)
    except DataError as exc:
        raise DataError(str(exc).replace("cannot write to ", "cannot write the knowledge base to ", 1)) from None
    if out.is_dir() and not is_knowledge_base(out) and any(out.iterdir()):
        raise DataError(f"cannot write the knowledge base to {out}: the directory holds other files, which "
                        "writing it would delete; give a new or empty directory (or an existing knowledge base)")
    return out


def build_knowledge_base(
    tasks: Sequence[Any],
    out_dir: str | os.PathLike,
    *,
    trials: int = DEFAULT_TRIALS,
    backends: Sequence[str] | None = None,
    storage: str | None = None,
    jobs: int = 1,
    seed: int = 0,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    portfolio_size: int = DEFAULT_PORTFOLIO_SIZE,
    sampler: str = "tpe",
    progress: bool = True,
    max_rows: int | None = None,
    index_sample: int = 2000,
    corpus: dict[str, Any] | None = None,
    verbose: bool | None = None,
) -> KnowledgeBase:
    """Meta-train on labelled ``tasks`` (``LabelledTask``-like: id, X, y, group, source)
    and write the knowledge base to ``out_dir``.

    ``storage``: an Optuna storage URL (default: ``sqlite:///OUT_DIR.work/optuna.db``);
    rerunning with the same storage resumes, and other processes or machines running
    the same build against it share the work. ``sampler="qmc"`` makes the content
    independent of the number of workers. ``max_rows`` runs configurations on a seeded
    sample of that many rows of bigger tasks (meta-features still see every row).
    ``corpus`` is recorded in the manifest (where the tasks came from). ``progress``
    shows bars on stderr; ``verbose`` (default: as ``progress``) prints the summary lines
    (trials run now and already finished, per phase).
    """
    from ...metafeatures import feature_names
    from ...metrics import INDEX_NAMES
    from ...plugins import get_registry
    from .storage import default_storage_url, open_storage, redact

    started = time.perf_counter()
    _check_args(trials, jobs, portfolio_size, time_limit, sampler, max_rows)
    out = check_kb_output(out_dir)
    names = _resolve_backends(backends)
    settings = Settings(trials=trials, backends=names, sampler=sampler, seed=int(seed),
                        time_limit=None if time_limit is None else float(time_limit),
                        portfolio_size=portfolio_size, max_rows=max_rows, index_sample=int(index_sample))
    prepared = prepare_tasks(tasks, max_rows=max_rows, seed=seed)
    url = storage or default_storage_url(out)
    store = open_storage(url)
    get_registry()
    _warm_imports(names)
    set_tasks(prepared)
    mf_names = feature_names()
    if not mf_names:
        raise ConfigError("no meta-features are registered; check the installed plugins")
    counts: dict[str, Any] = {}
    with Reporter(progress, verbose) as rep:
        rep.line(f"meta-training on {len(prepared)} tasks x {len(names)} backends "
                 f"({', '.join(names)}), {trials} trials each, storage {redact(url)}")
        mf_phase = metafeature_phase(prepared, settings, mf_names)
        c = run_phase(mf_phase, settings, store, url, jobs=jobs, reporter=rep)
        counts["metafeatures"] = c.as_dict()
        s_phase = search_phase(prepared, settings)
        c = run_phase(s_phase, settings, store, url, jobs=jobs, reporter=rep)
        counts["search"] = c.as_dict()
        search_summary = c.summary("search", "trials")
        records = collect_search(store, s_phase)
        portfolio = select_portfolio(records, [t.id for t in prepared], portfolio_size)
        if not portfolio:
            raise DataError("no configuration reached an ARI above 0 on any task; "
                            "check the labels, or raise --trials")
        p_phase = portfolio_phase(prepared, portfolio, settings)
        c = run_phase(p_phase, settings, store, url, jobs=jobs, reporter=rep)
        counts["portfolio"] = c.as_dict()
        portfolio_summary = c.summary("portfolio", f"tasks x {len(portfolio)} configurations",
                                      runs_per_unit=len(portfolio))
    rep.line(search_summary)
    rep.line(portfolio_summary)
    M, mf_failed = collect_metafeatures(store, mf_phase, mf_names)
    arrays = collect_portfolio(store, p_phase, len(portfolio), INDEX_NAMES)
    kb = assemble(prepared, portfolio, mf_names, list(INDEX_NAMES), M, arrays, settings,
                  studies=study_summaries(prepared, records), corpus=corpus, mf_failed=mf_failed,
                  build={"storage": redact(url), "jobs": jobs, "counts": counts,
                         "seconds": round(time.perf_counter() - started, 1),
                         "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
    kb.save(out)
    bad = int((kb.status != STATUS["ok"]).sum())
    rep.line(f"knowledge base written to {out}: {len(kb.tasks)} tasks x {len(kb.configs)} configurations"
             + (f", {bad} runs failed or timed out (recorded)" if bad else ""))
    return kb


def assemble(tasks: list[PreparedTask], portfolio: list[Candidate], mf_names: list[str], index_names: list[str],
             M: np.ndarray, arrays: dict[str, np.ndarray], settings: Settings, *, studies: dict[str, Any],
             corpus: dict[str, Any] | None, mf_failed: list[str], build: dict[str, Any]) -> KnowledgeBase:
    """The KnowledgeBase object (content first, provenance under ``info["build"]``)."""
    from ... import __version__

    info = {
        "builder": "metaclust meta-train",
        "package_version": __version__,
        "corpus": corpus or {"source": "tasks passed to build_knowledge_base"},
        "sampler": settings.sampler, "trials": settings.trials, "seed": settings.seed,
        "backends": list(settings.backends), "time_limit": settings.time_limit,
        "portfolio_size": settings.portfolio_size, "max_rows": settings.max_rows,
        "index_sample": settings.index_sample,
        "index_space": "each task's rows as given, before the configuration's preprocess",
        "scoring": SCORING,
        "noise": DEFAULT_NOISE,
        "portfolio_digest": portfolio_digest(portfolio),
        "portfolio_origin": {c.id: {"task": c.origin, "ari": round(c.ari, 6)} for c in portfolio},
        "metafeature_failures": mf_failed,
        "studies": studies,
        "build": build,
    }
    return KnowledgeBase(
        tasks=[Task(id=t.id, group=t.group, n=t.n, d=t.d, source=t.source) for t in tasks],
        configs=[Config(id=c.id, algorithm=c.algorithm, params=dict(c.params)) for c in portfolio],
        metafeature_names=list(mf_names), index_names=list(index_names), M=M,
        P={"ari": arrays["P_ari"], "nmi": arrays["P_nmi"], "acc": arrays["P_acc"]}, C=arrays["C"],
        seconds=arrays["seconds"], status=arrays["status"], info=info)
