"""Extending a knowledge base: new configurations on its tasks, new tasks with every configuration.

A full build searches every task x backend with Optuna before the portfolio is run; the
configurations a *k rule* makes possible need no search (their space is a handful of
discrete choices: rule, linkage, preprocessing, Gini threshold), so they are given as a
grid (:data:`K_RULE_GRID`, or a JSON file) and only run. Extending an existing knowledge base
therefore costs the runs it adds and nothing else:

1. meta-features of every task (a base task whose table no longer matches its stored
   meta-features, because its generator changed, counts as new);
2. the new configurations on the base's tasks (one row per task, like the portfolio phase);
3. every configuration (base and new) on the new tasks;

all through the same resumable, shareable storage and guarded workers as a full build. Then,
optionally, the merged portfolio is cut back greedily to ``portfolio_size`` configurations
on the measured ARIs (the configuration that most raises the sum over tasks of the best ARI
in the portfolio, first; the k-rule configurations compete with the searched ones on equal
terms), and the knowledge base is written atomically.
"""
from __future__ import annotations

import datetime as _dt
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
from .build import SCORING
from .portfolio import Candidate, portfolio_phase
from .runner import Reporter, Settings, run_phase
from .tasks import prepare_tasks, set_tasks

_STD = "standard"
#: the k-rule configurations added to the shipped knowledge base: for each k-based backend,
#: the rules and the few settings that matter most (linkage, covariance, Gini threshold)
K_RULE_GRID: tuple[tuple[str, dict[str, Any]], ...] = (
    *(("kmeans", {"k_rule": r, "preprocess": _STD})
      for r in ("silhouette", "calinski_harabasz", "davies_bouldin", "eigengap")),
    ("kmeans", {"k_rule": "silhouette", "preprocess": "none"}),
    ("kmeans", {"k_rule": "silhouette", "preprocess": "minmax"}),
    ("gmm", {"k_rule": "bic", "covariance_type": "full", "preprocess": _STD}),
    ("gmm", {"k_rule": "bic", "covariance_type": "diag", "preprocess": _STD}),
    ("gmm", {"k_rule": "silhouette", "covariance_type": "full", "preprocess": _STD}),
    ("agglomerative", {"k_rule": "silhouette", "linkage": "ward", "preprocess": _STD}),
    ("agglomerative", {"k_rule": "davies_bouldin", "linkage": "ward", "preprocess": _STD}),
    ("agglomerative", {"k_rule": "silhouette", "linkage": "average", "preprocess": _STD}),
    ("agglomerative", {"k_rule": "silhouette", "linkage": "complete", "preprocess": _STD}),
    *(("genie", {"k_rule": "silhouette", "gini_threshold": g, "preprocess": _STD}) for g in (0.1, 0.3, 0.5)),
    ("genie", {"k_rule": "calinski_harabasz", "gini_threshold": 0.3, "preprocess": _STD}),
    ("genie", {"k_rule": "davies_bouldin", "gini_threshold": 0.3, "preprocess": _STD}),
    ("genie", {"k_rule": "silhouette", "gini_threshold": 0.3, "preprocess": "none"}),
    ("birch", {"k_rule": "silhouette", "preprocess": _STD}),
    ("spectral", {"k_rule": "eigengap", "preprocess": _STD}),
)


def grid_candidates(spec: str | os.PathLike | None) -> list[Candidate]:
    """The configurations to add: ``"k-rules"`` (the built-in grid) or a JSON file holding
    ``[{"algorithm": ..., "params": {...}}, ...]``. Each is validated by its backend."""
    from ...plugins import get_registry

    if spec is None or str(spec) == "k-rules":
        items = [{"algorithm": a, "params": dict(p)} for a, p in K_RULE_GRID]
    else:
        path = Path(spec)
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read configurations from {path}: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) and "algorithm" in i for i in items):
            raise ConfigError(f"{path} must hold a JSON list of {{\"algorithm\": ..., \"params\": {{...}}}}")
    registry = get_registry()
    out = []
    for item in items:
        params = dict(item.get("params") or {})
        registry.backend(str(item["algorithm"])).validate(params)  # ConfigError names the problem
        out.append(Candidate(str(item["algorithm"]), params, origin="grid", ari=0.0))
    return out


def greedy_prune(P: np.ndarray, size: int) -> list[int]:
    """Column indices of at most ``size`` configurations chosen greedily to maximise the sum
    over tasks of the best ARI (failed runs count 0); ties by mean ARI, then index."""
    A = np.nan_to_num(np.maximum(P, 0.0), nan=0.0)
    if size >= A.shape[1]:
        return list(range(A.shape[1]))
    cover = np.zeros(A.shape[0])
    mean = A.mean(axis=0)
    chosen: list[int] = []
    free = np.ones(A.shape[1], dtype=bool)
    while len(chosen) < size and free.any():
        idx = np.flatnonzero(free)
        gain = np.maximum(A[:, idx] - cover[:, None], 0.0).sum(axis=0)
        order = np.lexsort((idx, -mean[idx], -np.round(gain, 12)))
        j = int(idx[order[0]])
        chosen.append(j)
        free[j] = False
        cover = np.maximum(cover, A[:, j])
    return sorted(chosen)


def _rows(storage: Any, phase: Any, n_configs: int) -> dict[int, dict[str, Any]]:
    from .slots import RESULT, finished_by_slot

    out = {}
    for job in phase.jobs:
        t = finished_by_slot(storage.get_all_trials(job.study_id, deepcopy=False), 1).get(0)
        row = t.user_attrs.get(RESULT, {}) if t is not None else {}
        if len(row.get("status", ())) == n_configs:
            out[job.task] = row
    return out


def noise_columns(base: KnowledgeBase) -> list[int]:
    """The base's configurations to score again because its rows counted noise as one cluster
    (built before ``noise=assign``): those of backends that find noise, and any that left
    noise on some task; none when the base already scores as this version does."""
    from ...plugins import get_registry

    if base.info.get("noise", "keep") == DEFAULT_NOISE:
        return []
    share = list(base.index_names).index("noise_share") if "noise_share" in base.index_names else None
    out = []
    for j, c in enumerate(base.configs):
        try:
            finds = bool(getattr(get_registry().backend(c.algorithm), "finds_noise", False))
        except ConfigError:  # an uninstalled plugin: judged by its rows alone
            finds = False
        left = share is not None and bool(np.nan_to_num(base.C[:, j, share]).max() > 0)
        if finds or left:
            out.append(j)
    return out


def extend_knowledge_base(base: KnowledgeBase, tasks: Sequence[Any], out_dir: str | os.PathLike, *,
                          add: Sequence[Candidate] = (), storage: str | None = None, jobs: int = 1,
                          seed: int = 0, time_limit: float | None = 60.0, max_rows: int | None = None,
                          index_sample: int = 2000, portfolio_size: int | None = None,
                          progress: bool = True, corpus: dict[str, Any] | None = None) -> KnowledgeBase:
    """``base`` with the configurations ``add`` run on its tasks, the ``tasks`` it does not
    hold added (every configuration run on them), then cut to ``portfolio_size`` (greedy on
    measured ARI; None keeps all). Base tasks missing from ``tasks`` are kept as they are when
    nothing is added, else dropped; base tasks
    whose meta-features no longer match (their generator changed) are run again whole.
    Meta-features installed since the base was built are computed on every task (compared on
    the base's own), which needs every base task in ``tasks``."""
    from ...metafeatures import feature_names
    from ...metrics import INDEX_NAMES
    from ...plugins import get_registry
    from .build import collect_metafeatures, fill_portfolio_row, metafeature_phase
    from .storage import default_storage_url, open_storage, redact

    started = time.perf_counter()
    out = Path(out_dir)
    prepared = prepare_tasks(tasks, max_rows=max_rows, seed=seed)
    by_id = {t.id: i for i, t in enumerate(prepared)}
    mf_names = feature_names()
    base_names = list(base.metafeature_names)
    if not set(base_names) <= set(mf_names):
        lost = [n for n in base_names if n not in mf_names]
        raise DataError(f"the base knowledge base has meta-features no installed plugin computes ({lost[0]}, ...); "
                        "install that plugin or rebuild the knowledge base whole")
    # meta-features installed since the base was built (a new group) are computed on every task;
    # a base task the corpus lacks could not get them, so every base task must then be in it
    added_mf = [n for n in mf_names if n not in base_names]
    if added_mf:
        absent_now = [t for t in base.task_ids if t not in by_id]
        if absent_now:
            raise DataError(f"meta-features were added since the base was built ({', '.join(added_mf[:3])}"
                            f"{', ...' if len(added_mf) > 3 else ''}), and {len(absent_now)} of its tasks "
                            f"(e.g. {absent_now[0]}) are not in the corpus, so they cannot be computed there: pass "
                            "every corpus the base was built from (CORPUS paths and --builtin)")
    base_cols = [mf_names.index(n) for n in base_names]
    old_keys = {json.dumps([c.algorithm, c.params], sort_keys=True) for c in base.configs}
    new = [c for c in add if c.key() not in old_keys]
    new = list({c.key(): c for c in new}.values())
    rescore = noise_columns(base)
    absent_rescore = [t for t in base.task_ids if t not in by_id] if rescore else []
    if absent_rescore:
        raise DataError(f"the base knowledge base scored noise as one cluster, and {len(absent_rescore)} of its "
                        f"tasks (e.g. {absent_rescore[0]}) are not in the corpus, so their rows cannot be scored "
                        f"again with noise={DEFAULT_NOISE}: pass every corpus the base was built from "
                        "(CORPUS paths and --builtin)")
    if new and not set(base.task_ids) & set(by_id):
        raise DataError("the corpus holds none of the base knowledge base's tasks, so the new configurations "
                        "cannot run on them; extend it with the corpus it was built from")
    all_configs = [Candidate(c.algorithm, dict(c.params), "base", 0.0) for c in base.configs] + new
    backends = tuple(sorted({c.algorithm for c in all_configs}))
    for name in backends:
        get_registry().backend(name)
    settings = Settings(trials=0, backends=backends, sampler="grid", seed=int(seed),
                        time_limit=None if time_limit is None else float(time_limit),
                        portfolio_size=portfolio_size or len(all_configs), max_rows=max_rows,
                        index_sample=int(index_sample))
    url = storage or default_storage_url(out)
    store = open_storage(url)
    set_tasks(prepared)
    from .build import _warm_imports

    _warm_imports(backends)
    Kb = len(base.configs)
    with Reporter(progress, True) as rep:
        rep.line(f"extending {base.path or 'the knowledge base'} ({len(base.tasks)} tasks x {Kb} "
                 f"configurations) with {len(new)} configurations on {len(prepared)} tasks, storage {redact(url)}")
        # meta-features of every task: a base task whose table changed since (a generator
        # was fixed) no longer matches its stored row, and is run again whole
        mf_phase = metafeature_phase(prepared, settings, mf_names)
        run_phase(mf_phase, settings, store, url, jobs=jobs, reporter=rep)
        M, mf_failed = collect_metafeatures(store, mf_phase, mf_names)
        base_pos = {t: i for i, t in enumerate(base.task_ids)}
        same = {gi: base_pos[t.id] for gi, t in enumerate(prepared)
                if t.id in base_pos and np.allclose(M[gi, base_cols], base.M[base_pos[t.id]], rtol=1e-6, atol=1e-6)}
        base_idx = sorted(same)
        fresh_idx = [gi for gi in range(len(prepared)) if gi not in same]
        changed = [prepared[gi].id for gi in fresh_idx if prepared[gi].id in base_pos]
        # base tasks the corpus lacks: kept as they are when no configuration is added (their rows
        # are complete), dropped otherwise (the new configurations cannot run on them)
        absent = [t for t in base.task_ids if t not in by_id]
        dropped = absent if new else []
        kept_absent = [] if new else [base_pos[t] for t in absent]
        rep.line(f"{len(base_idx)} base tasks in the corpus kept, {len(changed)} changed since the base was "
                 f"built (run again), {len(absent)} not in the corpus ("
                 f"{'dropped' if new else 'kept as they are'}), {len(fresh_idx) - len(changed)} new")
        phases = []
        if rescore and base_idx:
            rep.line(f"the base scored noise as one cluster: {len(rescore)} configurations that leave noise run "
                     f"again on its {len(base_idx)} tasks, scored with noise={DEFAULT_NOISE}")
            phases.append((portfolio_phase([prepared[i] for i in base_idx], [all_configs[j] for j in rescore],
                                           settings), base_idx, rescore))
        if new and base_idx:
            phases.append((portfolio_phase([prepared[i] for i in base_idx], new, settings), base_idx,
                           list(range(Kb, len(all_configs)))))
        if fresh_idx:
            phases.append((portfolio_phase([prepared[i] for i in fresh_idx], all_configs, settings), fresh_idx,
                           list(range(len(all_configs)))))
        for phase, idx, _cols in phases:
            for job, gi in zip(phase.jobs, idx):
                job.task = gi
            c = run_phase(phase, settings, store, url, jobs=jobs, reporter=rep)
            rep.line(c.summary("portfolio", f"tasks x {len(phase.jobs[0].payload['configs'])} configurations"))
    T, K, I = len(prepared) + len(kept_absent), len(all_configs), len(INDEX_NAMES)
    P = {m: np.full((T, K), np.nan) for m in ("ari", "nmi", "acc")}
    C = np.full((T, K, I), np.nan)
    seconds = np.zeros((T, K))
    status = np.full((T, K), STATUS["skipped"], dtype=np.int8)
    M = np.vstack([M, base.M[kept_absent]]) if kept_absent else M  # kept_absent is empty when added_mf
    same.update({len(prepared) + j: bi for j, bi in enumerate(kept_absent)})
    for gi in [*base_idx, *range(len(prepared), T)]:  # the base's own rows, unchanged
        bi = same[gi]
        for m in ("ari", "nmi", "acc"):
            P[m][gi, :Kb] = base.performance(m)[bi]
        C[gi, :Kb] = base.C[bi]
        seconds[gi, :Kb] = base.seconds[bi]
        status[gi, :Kb] = base.status[bi]
    for phase, idx, cols in phases:
        rows = _rows(store, phase, len(cols))
        for gi in idx:
            if gi in rows:
                fill_portfolio_row(rows[gi], gi, cols, P, C, seconds, status)
    keep = list(range(K))
    if portfolio_size is not None and portfolio_size < K:
        keep = greedy_prune(P["ari"], portfolio_size)
    from ... import __version__
    from .portfolio import portfolio_digest

    info = dict(base.info)
    info.update({
        "scoring": SCORING, "noise": DEFAULT_NOISE,
        "package_version": __version__,
        "extended": {
            "base": {"tasks": len(base.tasks), "configs": len(base.configs),
                     "portfolio_digest": base.info.get("portfolio_digest")},
            "added_configs": [{"algorithm": c.algorithm, "params": c.params} for c in new],
            "added_tasks": len(fresh_idx) - len(changed), "rerun_changed_tasks": changed,
            "added_metafeatures": added_mf,
            "rescored_noise_configs": [base.configs[j].id for j in rescore],
            "dropped_tasks": dropped, "portfolio_size": portfolio_size, "max_rows": max_rows,
            "corpus": corpus or {}, "metafeature_failures": mf_failed,
            "build": {"storage": redact(url), "jobs": jobs,
                      "seconds": round(time.perf_counter() - started, 1),
                      "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")},
        },
        "portfolio_digest": portfolio_digest([all_configs[j] for j in keep]),
    })
    kb = KnowledgeBase(
        tasks=[Task(id=t.id, group=t.group, n=t.n, d=t.d, source=t.source) for t in prepared]
        + [base.tasks[bi] for bi in kept_absent],
        configs=[Config(id=all_configs[j].id if j >= Kb else base.configs[j].id, algorithm=all_configs[j].algorithm,
                        params=dict(all_configs[j].params)) for j in keep],
        metafeature_names=list(mf_names), index_names=list(INDEX_NAMES), M=M,
        P={m: P[m][:, keep] for m in P}, C=C[:, keep], seconds=seconds[:, keep], status=status[:, keep], info=info)
    kb.save(out)
    return kb
