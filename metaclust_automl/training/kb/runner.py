"""Running a phase of meta-training: worker processes that claim slots until none is left.

A *phase* is a list of studies (:class:`StudyJob`), each with a number of slots, and a
function that does one slot's work and records it in the storage. The coordinator
creates the studies, counts what is already finished (a resumed run skips it), then
starts ``jobs`` worker processes (or works in-process for ``jobs=1``). Each worker opens
its own connection to the storage, owns one :class:`~metaclust_automl.running.worker.Guard`, and
loops over the studies (starting at its own offset, so that workers rarely meet),
claiming free slots (see :mod:`.slots`). A worker whose remaining studies are all being
worked on elsewhere waits for them: that is the barrier between phases, and it also
takes over the slots of workers that died. Workers on other machines, started with the
same command and storage, take part in the same way.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import MetaclustError
from ...running.worker import Guard
from .slots import OUTCOME, RESULT, SlotState, claim, ensure_study, finished_by_slot

#: counters per phase: [ok, failed, timeout, lost]
N_COUNTERS = 4
POLL_S = 0.25


@dataclass(frozen=True)
class Settings:
    """What determines the content of a build (and must match across workers)."""

    trials: int
    backends: tuple[str, ...]
    sampler: str
    seed: int
    time_limit: float | None
    portfolio_size: int
    max_rows: int | None
    index_sample: int = 2000

    @property
    def lease_s(self) -> float | None:
        """After this long a RUNNING claim from another host is taken over."""
        if self.time_limit is None:
            return None
        return 3.0 * max(self.time_limit, metafeature_limit(self.time_limit)) + 120.0


def metafeature_limit(time_limit: float | None) -> float | None:
    return None if time_limit is None else max(120.0, 3.0 * time_limit)


@dataclass
class StudyJob:
    """One study of a phase: ``n_slots`` units of work on task ``task``."""

    name: str
    attrs: dict[str, Any]
    n_slots: int
    task: int
    payload: dict[str, Any] = field(default_factory=dict)
    study_id: int = -1


@dataclass
class Phase:
    """A list of studies and the function that does one slot of one of them.

    ``run_slot(ctx, job, slot, trial_id)`` returns "ok", "failed", "timeout" or "lost".
    """

    key: str
    title: str
    jobs: list[StudyJob]
    run_slot: Callable[[WorkerContext, StudyJob, int, int], str]
    time_limit: float | None = None
    #: runs per slot, for the progress bar (a portfolio slot is a whole row)
    weight: int = 1

    @property
    def total(self) -> int:
        return sum(j.n_slots for j in self.jobs)


@dataclass
class WorkerContext:
    """What one worker holds while it runs slots."""

    storage: Any
    guard: Guard
    settings: Settings
    inherits: bool


def record(storage: Any, trial_id: int, status: str, value: float | None, result: dict[str, Any]) -> str:
    """Store one slot's result; "lost" when the claim was taken over meanwhile."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        storage.set_trial_user_attr(trial_id, RESULT, result)
        if status == "ok":
            storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [float(value)])
        else:
            storage.set_trial_user_attr(trial_id, OUTCOME, status)
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except (UpdateFinishedTrialError, RuntimeError):
        return "lost"
    return status


def prepare_phase(storage: Any, phase: Phase) -> int:
    """Create (or check) every study of the phase; the number of slots already finished."""
    known = {s.study_name: s for s in storage.get_all_studies()}
    done = 0
    for job in phase.jobs:
        job.study_id, new = ensure_study(storage, job.name, job.attrs, known)
        if not new:
            trials = storage.get_all_trials(job.study_id, deepcopy=False)
            done += len(finished_by_slot(trials, job.n_slots))
    return done


def _rotate(jobs: Sequence[StudyJob], index: int, count: int) -> list[StudyJob]:
    if not jobs:
        return []
    k = (len(jobs) * index) // max(count, 1)
    return list(jobs[k:]) + list(jobs[:k])


def work(phase: Phase, settings: Settings, storage: Any, *, index: int = 0, count: int = 1,
         counters: Any = None, on_slot: Callable[[str], None] | None = None) -> None:
    """Claim and run slots of ``phase`` until every study of it is complete."""
    limit = phase.time_limit
    with Guard(limit, threads=1) as guard:
        ctx = WorkerContext(storage=storage, guard=guard, settings=settings,
                            inherits="fork" in mp.get_all_start_methods())
        pending = _rotate(phase.jobs, index, count)
        while pending:
            progressed = False
            waiting: list[StudyJob] = []
            for job in pending:
                while True:
                    got = claim(storage, job.study_id, job.n_slots, settings.lease_s)
                    if isinstance(got, SlotState):
                        if not got.complete:
                            waiting.append(job)
                        break
                    slot, trial_id = got
                    status = phase.run_slot(ctx, job, slot, trial_id)
                    progressed = True
                    if counters is not None:
                        with counters.get_lock():
                            counters[("ok", "failed", "timeout", "lost").index(status)] += 1
                    if on_slot is not None:
                        on_slot(status)
            pending = waiting
            if pending and not progressed:
                time.sleep(POLL_S)


def _worker_entry(phase: Phase, settings: Settings, url: str, index: int, count: int,
                  counters: Any, errors: Any) -> None:
    from .storage import open_storage

    try:
        storage = open_storage(url)
        work(phase, settings, storage, index=index, count=count, counters=counters)
    except KeyboardInterrupt:
        os._exit(130)
    except BaseException as exc:  # noqa: BLE001 - reported to the coordinator as one line
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, MetaclustError):
            message = f"{type(exc).__name__}: {message}"
        data = message.encode("utf-8", "replace")[: len(errors) - 1]
        with errors.get_lock():
            if not errors.value:
                errors.raw = data + b"\0" * (len(errors) - len(data))
        os._exit(1)


class Reporter:
    """Progress bars (rich, on stderr) and summary lines; silent when disabled."""

    def __init__(self, bars: bool, lines: bool | None = None) -> None:
        self.enabled = bars if lines is None else lines
        self._progress: Any = None
        self.console: Any = None
        if self.enabled or bars:
            from rich.console import Console

            self.console = Console(stderr=True)
        if bars:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._progress = Progress(TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                                      transient=False)

    def line(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False, soft_wrap=True)

    def __enter__(self) -> Reporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def bar(self, title: str, total: int, completed: int) -> Any:
        if self._progress is None:
            return None
        return self._progress.add_task(title, total=total, completed=completed)

    def update(self, bar: Any, completed: int) -> None:
        if self._progress is not None and bar is not None:
            self._progress.update(bar, completed=completed)


@dataclass
class PhaseCounts:
    """What one phase did in this run (for the summary and the manifest)."""

    total: int
    found: int
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    lost: int = 0

    @property
    def ran(self) -> int:
        return self.ok + self.failed + self.timeout

    def summary(self, title: str, unit: str, runs_per_unit: int = 1) -> str:
        """One line for the log; with ``runs_per_unit`` > 1 (a portfolio unit is one task run
        with every configuration) the units are called tasks and the runs counted too."""
        extra = []
        if self.failed:
            extra.append(f"{self.failed} failed")
        if self.timeout:
            extra.append(f"{self.timeout} timed out")
        if self.lost:
            extra.append(f"{self.lost} taken over by other workers")
        tail = f" ({', '.join(extra)})" if extra else ""
        if runs_per_unit > 1:
            return (f"{title}: {self.total} {unit}; {self.found} tasks already finished (skipped), "
                    f"{self.ran} tasks run now ({self.ran * runs_per_unit} runs){tail}")
        return (f"{title}: {self.total} {unit}; {self.found} already finished (skipped), "
                f"{self.ran} run now{tail}")

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "already_finished": self.found, "run": self.ran, "ok": self.ok,
                "failed": self.failed, "timeout": self.timeout, "lost": self.lost}


def run_phase(phase: Phase, settings: Settings, storage: Any, url: str, *, jobs: int,
              reporter: Reporter) -> PhaseCounts:
    """Run a phase to completion with ``jobs`` worker processes (in-process for 1)."""
    from .storage import release

    found = prepare_phase(storage, phase)
    counts = PhaseCounts(total=phase.total, found=found)
    w = phase.weight
    bar = reporter.bar(phase.title, phase.total * w, found * w)
    if found >= phase.total:
        return counts
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    if jobs <= 1 or ctx is None:
        def on_slot(status: str) -> None:
            setattr(counts, status, getattr(counts, status) + 1)
            reporter.update(bar, (found + counts.ran) * w)

        work(phase, settings, storage, on_slot=on_slot)
        return counts
    counters = ctx.Array("q", N_COUNTERS)
    errors = ctx.Array("c", 512)
    release(storage)  # a pooled connection must not be shared with the children
    procs = [ctx.Process(target=_worker_entry, name=f"metaclust-worker-{i}",
                         args=(phase, settings, url, i, jobs, counters, errors)) for i in range(jobs)]
    try:
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            with counters.get_lock():
                ran = counters[0] + counters[1] + counters[2]
            reporter.update(bar, (found + ran) * w)
            time.sleep(0.25)
    except BaseException:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        raise
    for p in procs:
        p.join()
    counts.ok, counts.failed, counts.timeout, counts.lost = (int(v) for v in counters[:])
    message = errors.value.decode("utf-8", "replace")
    if message:
        from ...errors import BackendError

        raise BackendError(f"a meta-training worker stopped: {message}")
    bad = [p for p in procs if p.exitcode != 0]
    if bad:
        reporter.line(f"[yellow]warning:[/yellow] {len(bad)} worker(s) stopped early "
                      f"(exit codes {', '.join(str(p.exitcode) for p in bad)}); finishing their share here")
        def on_slot(status: str) -> None:
            setattr(counts, status, getattr(counts, status) + 1)

        work(phase, settings, storage, on_slot=on_slot)
    reporter.update(bar, phase.total * w)
    return counts

