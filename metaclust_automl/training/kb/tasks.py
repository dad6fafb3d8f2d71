"""The tasks of a meta-training run, prepared once, and the guarded jobs that use them.

Tasks are prepared in the coordinating process (checked, optionally sub-sampled, given
a content digest) and reach the worker processes and their guarded runners by fork, so
a job names a task by its index instead of shipping its rows. Where fork is not
available the rows travel with the job.
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...backends.noise import DEFAULT_NOISE
from ...corpus.tasks import LabelledTask
from ...encoding import keep_layout
from ...errors import DataError
from ...validation import check_matrix


@dataclass(kw_only=True)
class PreparedTask(LabelledTask):
    """A labelled task as meta-training uses it (``y == -1``: not scored): the one labelled-task
    type, with the full table's size, a content digest and the full table when X is a sample."""

    n: int
    d: int
    digest: str
    X_full: np.ndarray | None = None  # all rows, for the meta-features, when X is a sample

    @property
    def table(self) -> np.ndarray:
        """The whole table (meta-features describe what a user would hand in)."""
        return self.X if self.X_full is None else self.X_full


def task_digest(task_id: str, X: np.ndarray, y: np.ndarray) -> str:
    """sha256 of the rows and labels: a storage made for other data is refused."""
    h = hashlib.sha256(task_id.encode("utf-8"))
    h.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    h.update(repr(X.shape).encode())
    return h.hexdigest()[:16]


def prepare_tasks(tasks: Sequence[Any], *, max_rows: int | None = None, seed: int = 0) -> list[PreparedTask]:
    """Check the tasks; above ``max_rows`` rows keep a seeded random sample of them.

    Tasks with fewer than two labelled classes are skipped with a warning (every
    configuration would score the same on them)."""
    from .samplers import stable_seed

    out: list[PreparedTask] = []
    seen: set[str] = set()
    for task in tasks:
        tid = str(task.id)
        if tid in seen:
            raise DataError(f"task id {tid!r} occurs twice in the corpus")
        seen.add(tid)
        # a mixed table keeps its column layout: meta-features and backends see what a user's
        # table would give them (column types, one-hot blocks), not a plain array
        X = keep_layout(check_matrix(task.X, name=f"task {tid}"), task.X)
        y = np.asarray(task.y)
        if y.shape != (X.shape[0],):
            raise DataError(f"task {tid}: {y.shape[0] if y.ndim else 0} labels for {X.shape[0]} rows")
        y = y.astype(np.int64)
        y[y < 0] = -1
        n, d = X.shape
        X_full = None
        if max_rows is not None and n > max_rows:
            rng = np.random.default_rng(stable_seed(seed, tid, "rows"))
            keep = np.sort(rng.choice(n, max_rows, replace=False))
            X_full = keep_layout(np.ascontiguousarray(X, dtype=np.float64), X)
            X, y = X[keep], y[keep]
        if np.unique(y[y >= 0]).size < 2:
            warnings.warn(f"task {tid} has fewer than two labelled classes and was skipped", stacklevel=2)
            continue
        X = keep_layout(np.ascontiguousarray(X, dtype=np.float64), X)
        out.append(PreparedTask(id=tid, X=X, y=y, group=str(getattr(task, "group", "")),
                                source=str(getattr(task, "source", "")), n=int(n), d=int(d),
                                digest=task_digest(tid, X, y), X_full=X_full))
    if not out:
        raise DataError("the corpus has no usable labelled tasks (each needs at least two classes)")
    return sorted(out, key=lambda t: t.id)


# -- state inherited by the guarded worker, and the jobs it runs -------------------------

_TASKS: list[PreparedTask] = []


def set_tasks(tasks: list[PreparedTask]) -> None:
    """Make the tasks visible to guarded workers forked from now on."""
    _TASKS[:] = tasks


def task_arrays(index: int, inherits: bool, whole: bool = False) -> dict[str, np.ndarray]:
    """What a job must carry for task ``index``: nothing when the worker inherits it."""
    if inherits:
        return {}
    t = _TASKS[index]
    return {"X": t.table if whole else t.X, "y": t.y}


def _task_xy(arrays: dict[str, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    if "X" in arrays:
        return arrays["X"], arrays["y"]
    t = _TASKS[index]
    return t.X, t.y


def evaluate_job(arrays: dict[str, np.ndarray], task: int, algorithm: str, params: dict[str, Any],
                 seed: int, indices: bool = False, index_sample: int = 2000,
                 noise: str = DEFAULT_NOISE) -> tuple[dict[str, Any], dict]:
    """Guarded job: run one configuration on one task and score it.

    Returns ARI/NMI/ACC against the reference labels (label -1 unscored) of the labels as
    ``metaclust cluster`` delivers them (``noise``: the run's noise rows assigned to their
    nearest cluster, ``backends.noise``), the backend's run time, and, if asked, the internal
    indices (``metrics.INDEX_NAMES``) of the method's own partition (noise kept: its share is
    one of them), computed on the task's rows as given."""
    from ...backends.noise import apply_policy
    from ...metrics import INDEX_NAMES, external_scores, internal_indices
    from ...plugins import get_registry

    X, y = _task_xy(arrays, task)
    run = get_registry().backend(algorithm).run(X, params, seed=seed)
    delivered = apply_policy(run, X, noise, seed)
    scores = external_scores(y, delivered.labels, ignore_label=-1)
    if not all(np.isfinite(v) for v in scores.values()):
        raise DataError("scores are undefined on this task")
    out: dict[str, Any] = {"ari": scores["ari"], "nmi": scores["nmi"], "acc": scores["acc"],
                           "seconds": run.seconds, "n_clusters": run.n_clusters,
                           "noise_share": run.noise_share}
    if indices:
        values = internal_indices(X, run.labels, sample_size=index_sample, seed=seed)
        out["indices"] = [float(values[k]) for k in INDEX_NAMES]
    return out, {}


def metafeatures_job(arrays: dict[str, np.ndarray], task: int, seed: int) -> tuple[dict[str, Any], dict]:
    """Guarded job: the meta-features of one task (names and values, in order)."""
    from ...metafeatures import extract

    X = arrays["X"] if "X" in arrays else _TASKS[task].table
    values = extract(X, seed=seed)
    return {"names": list(values), "values": [float(v) for v in values.values()]}, {}
