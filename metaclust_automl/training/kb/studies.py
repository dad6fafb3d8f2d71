"""The search phase: one Optuna study per task x backend, maximising ARI.

Each study has ``trials`` slots; slot ``i`` is one trial whose parameters come from the
backend's own search space (``backend.search_space(trial)``: scale-free parameters and
the preprocessing), so that what is found on one table transfers to another. A failed
or timed-out configuration is a finished trial (FAIL with its outcome), never retried.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ...backends.noise import DEFAULT_NOISE
from .runner import Phase, Settings, StudyJob, WorkerContext, record
from .samplers import make_sampler
from .slots import OUTCOME, RESULT, finished_by_slot
from .tasks import PreparedTask, task_arrays

PREFIX = "metaclust"


def space_digest(backend: Any) -> str:
    """A digest of a backend's searched parameters: a changed search space is a new study."""
    params = [p for p in backend.describe()["parameters"] if p.get("searched")]
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


def search_phase(tasks: list[PreparedTask], settings: Settings) -> Phase:
    from ...plugins import get_registry

    registry = get_registry()
    jobs = []
    for i, task in enumerate(tasks):
        for name in settings.backends:
            backend = registry.backend(name)
            jobs.append(StudyJob(
                name=f"{PREFIX}/search/{task.id}/{name}",
                attrs={"kind": "search", "task": task.id, "task_digest": task.digest, "algorithm": name,
                       "space": space_digest(backend), "sampler": settings.sampler, "seed": settings.seed,
                       "noise": DEFAULT_NOISE},
                n_slots=settings.trials, task=i, payload={"algorithm": name}))
    return Phase("search", "search", jobs, run_search_slot, time_limit=settings.time_limit)


def run_search_slot(ctx: WorkerContext, job: StudyJob, slot: int, trial_id: int) -> str:
    """Draw one configuration from the sampler, run it under the guard, record its ARI."""
    import optuna

    from ...running.reporting import report_backend_problem
    from ...plugins import get_registry

    settings = ctx.settings
    algorithm = job.payload["algorithm"]
    sampler = make_sampler(settings.sampler, settings.seed, job.name, slot, settings.trials)
    study = optuna.Study(study_name=job.name, storage=ctx.storage, sampler=sampler)
    trial = optuna.trial.Trial(study, trial_id)
    try:
        params = get_registry().backend(algorithm).search_space(trial)
    except Exception as exc:  # noqa: BLE001 - a plugin's search space may raise anything
        from ...running.worker import Outcome

        error = f"search_space raised {type(exc).__name__}: {exc}"
        report_backend_problem(algorithm, Outcome("failed", error=error))
        return record(ctx.storage, trial_id, "failed", None, {"error": error, "seconds": 0.0})
    outcome = ctx.guard.call("metaclust_automl.training.kb.tasks:evaluate_job",
                             {"task": job.task, "algorithm": algorithm, "params": params,
                              "seed": settings.seed}, task_arrays(job.task, ctx.inherits))
    if not outcome.ok:
        report_backend_problem(algorithm, outcome)
        return record(ctx.storage, trial_id, outcome.status, None,
                      {"error": outcome.error, "seconds": outcome.seconds})
    r = outcome.result
    return record(ctx.storage, trial_id, "ok", r["ari"],
                  {k: r[k] for k in ("nmi", "acc", "seconds", "n_clusters", "noise_share")})


@dataclass
class SearchRecord:
    """One finished trial of the search phase."""

    task: int
    algorithm: str
    slot: int
    params: dict[str, Any]
    distributions: dict[str, Any]
    ari: float | None
    outcome: str


def collect_search(storage: Any, phase: Phase) -> dict[tuple[int, str], list[SearchRecord]]:
    """Every counted trial of every study of the phase, by (task index, algorithm), by slot."""
    from optuna.trial import TrialState

    out: dict[tuple[int, str], list[SearchRecord]] = {}
    for job in phase.jobs:
        trials = storage.get_all_trials(job.study_id, deepcopy=False)
        rows = []
        for slot, t in sorted(finished_by_slot(trials, job.n_slots).items()):
            ok = t.state == TrialState.COMPLETE
            rows.append(SearchRecord(task=job.task, algorithm=job.payload["algorithm"], slot=slot,
                                     params=dict(t.params), distributions=dict(t.distributions),
                                     ari=float(t.value) if ok else None,
                                     outcome="ok" if ok else str(t.user_attrs.get(OUTCOME, "failed"))))
        out[(job.task, job.payload["algorithm"])] = rows
    return out


def study_summaries(tasks: list[PreparedTask], records: dict[tuple[int, str], list[SearchRecord]]
                    ) -> dict[str, dict[str, Any]]:
    """Per task and backend: best ARI and parameters found, and counts (for the manifest)."""
    out: dict[str, dict[str, Any]] = {}
    for (ti, algorithm), rows in sorted(records.items()):
        good = [r for r in rows if r.ari is not None]
        best = max(good, key=lambda r: (r.ari, -r.slot)) if good else None
        out.setdefault(tasks[ti].id, {})[algorithm] = {
            "best_ari": None if best is None else round(best.ari, 6),
            "best_params": None if best is None else best.params,
            "trials": len(rows),
            "failed": sum(r.outcome == "failed" for r in rows),
            "timeout": sum(r.outcome == "timeout" for r in rows),
        }
    return out


__all__ = ["SearchRecord", "collect_search", "search_phase", "study_summaries", "RESULT"]
