"""Splitting work between workers that share only an Optuna storage.

Every unit of work is a numbered *slot* of a study: trial slot ``i`` of a search study,
portfolio configuration ``j`` of a task, and so on. A worker claims a slot by creating
a RUNNING trial that carries ``slot`` and ``owner`` user attributes, then re-reads the
study: if another live claim of the same slot has a smaller trial id (or the slot is
already finished), it voids its own trial and takes another slot. So a study never
collects more than one counted result per slot, whatever the number of workers and
machines, and a rerun only fills the slots that have no finished trial: that is the
resume.

A RUNNING trial whose owner is gone is *stale* and its slot is free again: on the same
host, when the owner's process no longer exists (a killed worker is taken over at
once); on any host, when it has run longer than the lease (a guarded run cannot, since
the guard stops it at the time limit).

States, as recorded in the storage:
- COMPLETE: a result (value = ARI for search and portfolio runs);
- FAIL with user attribute ``outcome`` = "failed" / "timeout": a result too (the
  configuration failed or ran out of time: recorded, never retried);
- FAIL with ``void``: not a result (a lost race or a taken-over stale claim).
"""
from __future__ import annotations

import datetime as _dt
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError

SLOT = "slot"
OWNER = "owner"
OUTCOME = "outcome"
VOID = "void"
RESULT = "result"
FINISHED_OUTCOMES = ("failed", "timeout")

_token: tuple[int, str] | None = None


def owner_token() -> str:
    """``host:pid:random``, unique to this process (recomputed after a fork)."""
    global _token
    pid = os.getpid()
    if _token is None or _token[0] != pid:
        _token = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _token[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_finished(t: Any) -> bool:
    """Whether a trial is a counted result."""
    from optuna.trial import TrialState

    if t.state == TrialState.COMPLETE:
        return True
    return (t.state == TrialState.FAIL and t.user_attrs.get(OUTCOME) in FINISHED_OUTCOMES
            and not t.user_attrs.get(VOID))


def is_stale(t: Any, lease_s: float | None, now: _dt.datetime | None = None) -> bool:
    """Whether a RUNNING claim's owner is gone (see the module docstring)."""
    owner = str(t.user_attrs.get(OWNER, ""))
    host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() and owner != owner_token():
            return True  # an earlier process that had our pid
        if pid != os.getpid() and not _pid_alive(pid):
            return True
    if lease_s is not None and t.datetime_start is not None:
        now = now or _dt.datetime.now()
        if (now - t.datetime_start).total_seconds() > lease_s:
            return True
    return False


@dataclass
class SlotState:
    """Which slots of a study are finished, running elsewhere, or free."""

    n_slots: int
    finished: dict[int, Any] = field(default_factory=dict)
    running: dict[int, Any] = field(default_factory=dict)

    @property
    def free(self) -> list[int]:
        return [i for i in range(self.n_slots) if i not in self.finished and i not in self.running]

    @property
    def complete(self) -> bool:
        return all(i in self.finished for i in range(self.n_slots))


def void_trial(storage: Any, trial_id: int, reason: str) -> None:
    """Mark a trial as not counting (ignores a trial that finished meanwhile)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        storage.set_trial_user_attr(trial_id, VOID, reason)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except (UpdateFinishedTrialError, RuntimeError):
        pass


def finished_by_slot(trials: list[Any], n_slots: int | None = None) -> dict[int, Any]:
    """The counted trial of each slot: the finished one with the smallest trial id."""
    out: dict[int, Any] = {}
    for t in sorted(trials, key=lambda t: t._trial_id):
        slot = t.user_attrs.get(SLOT)
        if not isinstance(slot, int) or slot in out or not is_finished(t):
            continue
        if n_slots is not None and not 0 <= slot < n_slots:
            continue
        out[slot] = t
    return out


def scan(storage: Any, study_id: int, n_slots: int, lease_s: float | None) -> SlotState:
    """Read a study's slots; stale claims are voided on the way, so their slots are free."""
    from optuna.trial import TrialState

    trials = storage.get_all_trials(study_id, deepcopy=False)
    state = SlotState(n_slots, finished=finished_by_slot(trials, n_slots))
    now = _dt.datetime.now()
    for t in trials:
        slot = t.user_attrs.get(SLOT)
        if t.state != TrialState.RUNNING or not isinstance(slot, int) or slot in state.finished:
            continue
        if t.user_attrs.get(OWNER) == owner_token():
            continue  # our own claim being set up: counts as running
        if is_stale(t, lease_s, now):
            void_trial(storage, t._trial_id, "stale claim taken over")
            continue
        state.running.setdefault(slot, t)
    return state


def claim(storage: Any, study_id: int, n_slots: int, lease_s: float | None,
          extra_attrs: Mapping[str, Any] | None = None, attempts: int = 8) -> tuple[int, int] | SlotState:
    """Claim the lowest free slot: ``(slot, trial_id)``, or the SlotState when none is free."""
    from optuna.trial import FrozenTrial, TrialState

    for _ in range(attempts):
        state = scan(storage, study_id, n_slots, lease_s)
        free = state.free
        if not free:
            return state
        slot = free[0]
        template = FrozenTrial(
            number=0, state=TrialState.RUNNING, value=None, datetime_start=_dt.datetime.now(),
            datetime_complete=None, params={}, distributions={},
            user_attrs={SLOT: slot, OWNER: owner_token(), **dict(extra_attrs or {})},
            system_attrs={}, intermediate_values={}, trial_id=0)
        trial_id = storage.create_new_trial(study_id, template_trial=template)
        rivals = [t for t in storage.get_all_trials(study_id, deepcopy=False)
                  if t.user_attrs.get(SLOT) == slot and t._trial_id != trial_id]
        lost = any(is_finished(t) or (t.state == TrialState.RUNNING and t._trial_id < trial_id
                                      and not t.user_attrs.get(VOID) and not is_stale(t, lease_s))
                   for t in rivals)
        if not lost:
            return slot, trial_id
        void_trial(storage, trial_id, "slot claimed by another worker")
    return scan(storage, study_id, n_slots, lease_s)


#: the study user attribute that holds what a study was made with, as one JSON object: one
#: write per new study instead of one per key (creating the studies is serial work that
#: every worker waits for)
SPEC = "spec"


#: what a study written before a setting existed was made with: a storage of runs scored
#: with noise as one cluster must not be reused for a build that assigns it
LEGACY_ATTRS = {"noise": "keep"}


def ensure_study(storage: Any, name: str, attrs: Mapping[str, Any],
                 known: Mapping[str, Any] | None = None) -> tuple[int, bool]:
    """The id of study ``name``, created (maximising) with ``attrs`` if new, and whether
    it was new. ``known`` maps names to the storage's FrozenStudy objects, if at hand.

    An existing study must have been made with the same ``attrs`` (task data, sampler,
    seed): otherwise its trials answer another question, and mixing them would be wrong.
    """
    from optuna.exceptions import DuplicatedStudyError
    from optuna.study import StudyDirection

    if known is not None and name in known:
        study_id, stored = known[name]._study_id, dict(known[name].user_attrs)
    else:
        try:
            study_id = storage.create_new_study([StudyDirection.MAXIMIZE], name)
            storage.set_study_user_attr(study_id, SPEC, dict(attrs))
            return study_id, True
        except DuplicatedStudyError:
            study_id = storage.get_study_id_from_name(name)
        stored = storage.get_study_user_attrs(study_id)
    # storages written before SPEC existed hold one attribute per key
    spec = stored.get(SPEC)
    have = spec if isinstance(spec, dict) else stored
    for key, value in attrs.items():
        # a spec written before the key existed (not an empty one: a racing creator's study
        # whose spec is not written yet says nothing)
        if have and key not in have and key in LEGACY_ATTRS:
            have = {**have, key: LEGACY_ATTRS[key]}
        if key in have and have[key] != value:
            raise ConfigError(
                f"the storage already holds study {name!r} made with {key}={have[key]!r}, not {value!r}; "
                "rerun with the same settings, or use another --storage for a different build")
    if SPEC not in stored:  # a racing creator has not written it yet (or an old storage)
        storage.set_study_user_attr(study_id, SPEC, {**have, **dict(attrs)})
    return study_id, False
