"""The portfolio: a few configurations that cover the corpus, and every one run on every task.

Selection (deterministic, from the finished search studies only):

1. candidates: the best ``per_study`` configurations of every task x backend study,
   rounded to 3 significant digits (scale-free values need no more) and de-duplicated;
2. an estimate of how each candidate would do on every task, without running it: the
   ARI of the nearest trial of that task's study of the same backend (distance in the
   search space, log-scaled where the search is). Cheap, and it knows, say, that
   k-means with k=3 is poor on a 10-class task because a nearby trial was;
3. greedy cover: repeatedly add the candidate that most raises the sum over tasks of
   the best estimated ARI in the portfolio (ties: higher mean estimate, then name);
   first ``min_per_backend`` rounds are taken per backend, so every searched backend
   stays represented for the selectors.

Then the portfolio phase runs every configuration on every task under the guard, with
internal indices, giving P[task, config], C[task, config, index], seconds and status.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...backends.noise import DEFAULT_NOISE
from .runner import Phase, Settings, StudyJob, WorkerContext, record
from .studies import PREFIX, SearchRecord
from .tasks import PreparedTask, task_arrays


@dataclass
class Candidate:
    algorithm: str
    params: dict[str, Any]
    origin: str
    ari: float

    def key(self) -> str:
        return json.dumps([self.algorithm, self.params], sort_keys=True)

    @property
    def id(self) -> str:
        return f"{self.algorithm}-{hashlib.sha256(self.key().encode()).hexdigest()[:8]}"


def round_value(value: Any, dist: Any) -> Any:
    """3 significant digits for floats, kept inside the searched range."""
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    if not math.isfinite(value) or value == 0.0:
        return value
    r = float(f"{value:.3g}")
    lo, hi = getattr(dist, "low", None), getattr(dist, "high", None)
    if lo is not None and r < lo:
        r = float(lo)
    if hi is not None and r > hi:
        r = float(hi)
    return r


def candidates(records: dict[tuple[int, str], list[SearchRecord]], task_ids: list[str],
               per_study: int = 2) -> list[Candidate]:
    """The best configurations of every study, rounded and de-duplicated (best kept)."""
    by_key: dict[str, Candidate] = {}
    for (ti, _algorithm), rows in sorted(records.items()):
        good = sorted((r for r in rows if r.ari is not None and r.ari > 0.0),
                      key=lambda r: (-r.ari, r.slot))[:per_study]
        for r in good:
            params = {k: round_value(v, r.distributions.get(k)) for k, v in sorted(r.params.items())}
            c = Candidate(r.algorithm, params, task_ids[ti], float(r.ari))
            old = by_key.get(c.key())
            if old is None or c.ari > old.ari:
                by_key[c.key()] = c
    return [by_key[k] for k in sorted(by_key)]


def _unit(value: Any, dist: Any) -> float:
    """A numeric value as a position in [0, 1] of its searched range (log-scaled if so)."""
    if value is None or dist is None:
        return math.nan
    lo, hi = float(dist.low), float(dist.high)
    if hi <= lo:
        return 0.0
    v = min(max(float(value), lo), hi)
    if getattr(dist, "log", False) and lo > 0:
        return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (v - lo) / (hi - lo)


def _encode(params: dict[str, Any], dists: dict[str, Any], num: list[str], cat: list[str]
            ) -> tuple[list[float], list[float]]:
    u = [_unit(params.get(n), dists.get(n)) for n in num]
    codes = []
    for n in cat:
        choices = list(getattr(dists.get(n), "choices", ()))
        codes.append(float(choices.index(params[n])) if n in params and params[n] in choices else math.nan)
    return u, codes


def estimate_matrix(cands: list[Candidate], records: dict[tuple[int, str], list[SearchRecord]],
                    n_tasks: int) -> np.ndarray:
    """A[candidate, task]: ARI of the nearest finished trial of that task's study of the
    candidate's backend (failed trials count 0; ties go to the better trial)."""
    from optuna.distributions import CategoricalDistribution

    A = np.zeros((len(cands), n_tasks))
    for alg in sorted({c.algorithm for c in cands}):
        cidx = [i for i, c in enumerate(cands) if c.algorithm == alg]
        dists: dict[str, Any] = {}
        for (ti, a), rows in records.items():
            if a == alg:
                for r in rows:
                    for k, d in r.distributions.items():
                        dists.setdefault(k, d)
        names = sorted(set(dists) | {k for i in cidx for k in cands[i].params})
        num = [n for n in names if n in dists and not isinstance(dists[n], CategoricalDistribution)]
        cat = [n for n in names if n not in num]
        enc = [_encode(cands[i].params, dists, num, cat) for i in cidx]
        Cn = np.array([e[0] for e in enc], dtype=float).reshape(len(cidx), len(num))
        Cc = np.array([e[1] for e in enc], dtype=float).reshape(len(cidx), len(cat))
        for ti in range(n_tasks):
            rows = records.get((ti, alg), [])
            if not rows:
                continue
            renc = [_encode(r.params, dists, num, cat) for r in rows]
            Rn = np.array([e[0] for e in renc], dtype=float).reshape(len(rows), len(num))
            Rc = np.array([e[1] for e in renc], dtype=float).reshape(len(rows), len(cat))
            vals = np.array([max(r.ari, 0.0) if r.ari is not None else 0.0 for r in rows])
            dn = np.abs(Cn[:, None, :] - Rn[None, :, :])
            dn[np.isnan(dn)] = 1.0
            dc = (Cc[:, None, :] != Rc[None, :, :]) | np.isnan(Cc[:, None, :]) | np.isnan(Rc[None, :, :])
            D = np.round(dn.sum(axis=2) + dc.sum(axis=2), 9) - 1e-6 * vals[None, :]
            A[cidx, ti] = vals[np.argmin(D, axis=1)]
    return A


def select_portfolio(records: dict[tuple[int, str], list[SearchRecord]], task_ids: list[str], size: int,
                     *, per_study: int = 2, min_per_backend: int = 2) -> list[Candidate]:
    """Greedy cover of the tasks by at most ``size`` configurations (deterministic)."""
    cands = candidates(records, task_ids, per_study)
    if not cands:
        return []
    A = estimate_matrix(cands, records, len(task_ids))
    mean = A.mean(axis=1)
    cover = np.zeros(len(task_ids))
    chosen: list[int] = []
    taken = np.zeros(len(cands), dtype=bool)

    def pick(mask: np.ndarray) -> int | None:
        idx = np.flatnonzero(mask & ~taken)
        if idx.size == 0:
            return None
        gain = np.maximum(A[idx] - cover[None, :], 0.0).sum(axis=1)
        order = np.lexsort((idx, -mean[idx], -np.round(gain, 12)))
        return int(idx[order[0]])

    algorithms = sorted({c.algorithm for c in cands})
    alg_of = np.array([c.algorithm for c in cands])
    for _ in range(min_per_backend):
        for alg in algorithms:
            if len(chosen) >= size:
                break
            j = pick(alg_of == alg)
            if j is not None:
                chosen.append(j)
                taken[j] = True
                cover = np.maximum(cover, A[j])
    while len(chosen) < size:
        j = pick(np.ones(len(cands), dtype=bool))
        if j is None:
            break
        chosen.append(j)
        taken[j] = True
        cover = np.maximum(cover, A[j])
    return [cands[j] for j in chosen]


def portfolio_digest(portfolio: list[Candidate]) -> str:
    text = json.dumps([[c.algorithm, c.params] for c in portfolio], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def portfolio_phase(tasks: list[PreparedTask], portfolio: list[Candidate], settings: Settings) -> Phase:
    """One study per task with one slot: the task's row of the performance matrix.

    A row (every configuration on one task, each under its own time limit) is one unit
    of work: a claim per run would cost more storage traffic than most runs take. An
    interrupted row is redone whole on resume."""
    digest = portfolio_digest(portfolio)
    configs = [{"algorithm": c.algorithm, "params": c.params} for c in portfolio]
    jobs = [StudyJob(name=f"{PREFIX}/portfolio/{digest}/{t.id}",
                     attrs={"kind": "portfolio", "task": t.id, "task_digest": t.digest, "portfolio": digest,
                            "seed": settings.seed, "index_sample": settings.index_sample,
                            "noise": DEFAULT_NOISE},
                     n_slots=1, task=i, payload={"configs": configs})
            for i, t in enumerate(tasks)]
    return Phase("portfolio", "portfolio", jobs, run_portfolio_slot, time_limit=settings.time_limit,
                 weight=len(configs))


def run_portfolio_slot(ctx: WorkerContext, job: StudyJob, slot: int, trial_id: int) -> str:
    """Run every portfolio configuration on the job's task; store the row."""
    from ...running.reporting import report_backend_problem

    row: dict[str, list[Any]] = {"status": [], "ari": [], "nmi": [], "acc": [], "indices": [], "seconds": [],
                                 "error": []}
    for cfg in job.payload["configs"]:
        outcome = ctx.guard.call("metaclust_automl.training.kb.tasks:evaluate_job",
                                 {"task": job.task, "algorithm": cfg["algorithm"], "params": cfg["params"],
                                  "seed": ctx.settings.seed, "indices": True,
                                  "index_sample": ctx.settings.index_sample},
                                 task_arrays(job.task, ctx.inherits))
        r = outcome.result if outcome.ok else {}
        if not outcome.ok:
            report_backend_problem(cfg["algorithm"], outcome)
        row["status"].append(outcome.status)
        for key in ("ari", "nmi", "acc", "indices"):
            row[key].append(r.get(key))
        row["seconds"].append(float(r.get("seconds", outcome.seconds)))
        row["error"].append(outcome.error or None)
    good = [a for a in row["ari"] if a is not None]
    return record(ctx.storage, trial_id, "ok", float(np.mean(good)) if good else 0.0, row)
