"""Running clustering backends so that a plugin's backend cannot take a command down.

Built-in backends run in this process, as before: no fork, no copy of the table, nothing
added on the fast path. A backend registered by another distribution (a plugin found
through the ``metaclust`` entry points) runs in a :class:`~metaclust_automl.running.worker.Guard`
worker process with a time limit, because its code is not ours: it may raise anything,
crash the interpreter or never return. Each of these becomes a :class:`BackendError`
naming the plugin's distribution and the backend, reported once per process as one
warning line (:func:`~metaclust_automl.running.reporting.report_backend_problem`), and the caller
(a probe of ``recommend --budget``, the final run of ``cluster``, a task of ``evaluate``)
goes on with its next candidate.

On one table, a plugin backend that hung or crashed is not started again (it would cost
the time limit, or a crash, each time); a configuration that failed with a BackendError
(the declared way to say "not on this table") is not run again, but the backend's other
configurations still are.

The worker is forked after the table is bound, so it reads the table from the memory it
inherited (copy-on-write) instead of receiving a copy through the pipe: isolating a
plugin costs one fork per table, not a second copy of a big table. Where fork is not
available the table is sent.
"""
from __future__ import annotations

import itertools
import json
import math
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import DISTRIBUTION
from ..errors import BackendError, ConfigError
from .worker import Closing, check_time_limit

#: seconds one run of a plugin's backend may take before it is stopped (``--time-limit``)
DEFAULT_TIME_LIMIT = 300.0
#: the distribution name of the built-in backends (see ``Registry.sources``)
BUILTIN_PACKAGE = DISTRIBUTION

#: tables bound by runners, by token; a forked worker inherits them (weak: a runner does
#: not keep a caller's table alive)
_TABLES: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()
_tokens = itertools.count(1)


def is_plugin_backend(algorithm: str, registry: Any = None) -> bool:
    """True for a registered backend that another distribution provides."""
    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    if algorithm not in registry.backends:
        return False  # unknown: the in-process lookup raises the usual ConfigError
    return registry.source("backend", algorithm) != BUILTIN_PACKAGE


def _fork_available() -> bool:
    from .worker import _context

    return _context().get_start_method() == "fork"


class BackendRunner(Closing):
    """Runs backends by name: built-ins in process, plugins' under a guard.

    ``time_limit`` (seconds, None = none) bounds each guarded call. ``threads`` caps the
    BLAS/OpenMP threads of the worker: 1 by default, because OpenMP runtimes are not
    fork-safe once the parent has used them (a forked child that opens a parallel region
    can deadlock, which would look like the plugin hanging). Call :meth:`new_table` when
    work on a new table starts; :meth:`close` (or ``with``) stops the worker.
    """

    def __init__(self, time_limit: float | None = DEFAULT_TIME_LIMIT, *, threads: int | None = 1,
                 registry: Any = None) -> None:
        self.time_limit = check_time_limit(time_limit)
        self.threads = threads
        self._registry = registry
        self._guard: Any = None
        self._guard_token: int | None = None  # the table the worker inherited
        self._token: int | None = None
        self._table: weakref.ref[np.ndarray] | None = None
        #: algorithm -> why it is not run again on this table (it hung or crashed)
        self.broken: dict[str, str] = {}
        #: (algorithm, parameters) -> why this configuration is not run again on this table
        self.failed: dict[tuple[str, str], str] = {}

    # -- plumbing -------------------------------------------------------------------------
    @property
    def registry(self) -> Any:
        if self._registry is not None:
            return self._registry
        from ..plugins import get_registry

        return get_registry()

    def isolates(self, algorithm: str) -> bool:
        """Whether runs of ``algorithm`` go through the guard."""
        return is_plugin_backend(algorithm, self.registry)

    def new_table(self, X: np.ndarray) -> None:
        """Start work on table ``X``: what failed on another table is forgotten (on the same
        array, it is kept: a backend that hung on it would hang again)."""
        if self._bound() is X:
            return
        self.broken.clear()
        self.failed.clear()
        self._bind(X)

    def _bound(self) -> np.ndarray | None:
        return self._table() if self._table is not None else None

    def _bind(self, X: np.ndarray) -> None:
        if self._token is not None:
            _TABLES.pop(self._token, None)
        self._token = next(_tokens)
        _TABLES[self._token] = X
        self._table = weakref.ref(X)

    def _transport(self, X: np.ndarray, rows: np.ndarray | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Job arguments naming the table: by token when the worker inherits it, else sent."""
        arrays: dict[str, np.ndarray] = {}
        if rows is not None:
            arrays["rows"] = np.asarray(rows, dtype=np.int64)
        if _fork_available():
            if self._bound() is not X:
                self._bind(X)  # a different array (say, a copy): the worker must see this one
            if self._guard is None or self._guard_token != self._token:
                self._stop_worker()  # the next call forks a worker that inherits this table
                self._guard_token = self._token
            kwargs: dict[str, Any] = {"table": self._token}
        else:
            arrays["X"] = X if rows is None else X[arrays.pop("rows")]
            kwargs = {}
        if self._guard is None:
            from .worker import Guard

            self._guard = Guard(self.time_limit, threads=self.threads)
        return kwargs, arrays

    def _stop_worker(self) -> None:
        if self._guard is not None:
            self._guard.close()
            self._guard = None

    def release(self) -> None:
        """Stop the worker process, if any, keeping what failed on this table. Called when a
        step is done: an idle worker would keep the (copy-on-write) table it inherited in
        memory after the caller has let it go."""
        self._stop_worker()

    def close(self) -> None:
        """Stop the worker process and release the bound table."""
        self._stop_worker()
        if self._token is not None:
            _TABLES.pop(self._token, None)
        self._token = self._guard_token = None
        self._table = None

    # -- problems ---------------------------------------------------------------------------
    @staticmethod
    def _key(algorithm: str, params: Mapping[str, Any] | None) -> tuple[str, str]:
        return algorithm, json.dumps(dict(params or {}), sort_keys=True, default=str)

    def _check_known(self, algorithm: str, params: Mapping[str, Any] | None) -> None:
        if algorithm in self.broken:
            raise BackendError(self.broken[algorithm])
        known = self.failed.get(self._key(algorithm, params))
        if known is not None:
            raise BackendError(known)

    def _fail(self, algorithm: str, params: Mapping[str, Any] | None, outcome: Any) -> None:
        """Report (once per process) and remember a guarded call that did not succeed; raise."""
        from .reporting import backend_package, report_backend_problem

        report_backend_problem(algorithm, outcome)
        package = backend_package(algorithm)
        if outcome.status == "timeout":
            limit = f"{self.time_limit:g} s" if self.time_limit is not None else "none"
            message = (f"plugin {package}: backend {algorithm!r} timed out ({outcome.error}); raise "
                       f"--time-limit (now {limit}) if it only needs longer")
            self.broken[algorithm] = message + "; not started again on this table"
        else:
            message = f"plugin {package}: backend {algorithm!r} failed: {outcome.error}"
            if outcome.error.startswith("BackendError"):  # declared: this configuration, this table
                self.failed[self._key(algorithm, params)] = message
            else:  # a bug or a crash in the plugin: its other configurations would fail alike
                self.broken[algorithm] = message + "; not started again on this table"
        raise BackendError(message)

    # -- calls ------------------------------------------------------------------------------
    def run(self, algorithm: str, X: np.ndarray, params: Mapping[str, Any] | None = None, seed: int = 0,
            *, rows: np.ndarray | None = None) -> Any:
        """A ``ClusterRun`` of ``algorithm`` on ``X`` (or on ``X[rows]``). A plugin's backend that
        fails or hangs raises BackendError (reported once); a built-in raises what it raises."""
        if not self.isolates(algorithm):
            Xr = X if rows is None else X[rows]
            return self.registry.backend(algorithm).run(Xr, dict(params or {}), seed=seed)
        from .worker import Outcome

        outcome = self._call("run_job", algorithm, X, params, seed, rows)
        try:
            return checked_run(algorithm, outcome, int(X.shape[0] if rows is None else len(rows)))
        except BackendError as exc:  # wrong labels are a bug in the plugin: its other configurations too
            self._fail(algorithm, params, Outcome("failed", seconds=outcome.seconds, error=str(exc)))
            raise  # pragma: no cover - _fail raises

    def validate(self, algorithm: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``backend.validate(params)``; a plugin's runs in a worker with the time limit (its code
        may hang or exit), and its ConfigError comes back as a ConfigError."""
        return validate_params(algorithm, params, self.time_limit, registry=self.registry)

    def resolve(self, algorithm: str, X: np.ndarray, params: Mapping[str, Any] | None, seed: int = 0) -> dict[str, Any]:
        """Concrete parameters of a plugin's backend for table ``X``, computed in the worker
        (``backends.resolve.resolve_params``); BackendError when it fails or hangs."""
        return dict(self._call("resolve_job", algorithm, X, params, seed, None).result["resolved"])

    def _call(self, job: str, algorithm: str, X: np.ndarray, params: Mapping[str, Any] | None, seed: int,
              rows: np.ndarray | None) -> Any:
        """One guarded call of this module's ``job``; the successful Outcome (else BackendError)."""
        self._check_known(algorithm, params)
        kwargs, arrays = self._transport(X, rows)
        outcome = self._guard.call(f"metaclust_automl.running.backend_runner:{job}",
                                   {"algorithm": algorithm, "params": dict(params or {}), "seed": int(seed),
                                    **kwargs}, arrays)
        if not outcome.ok:
            self._fail(algorithm, params, outcome)
        return outcome


def validate_params(algorithm: str, params: Mapping[str, Any] | None, time_limit: float | None = None, *,
                    registry: Any = None) -> dict[str, Any]:
    """A backend's validated parameters. A built-in validates here; a plugin's ``validate`` runs
    in a guarded worker (default limit: the command's ``--time-limit``), because it is code
    that is not ours: a ConfigError it raises is the user's to fix and comes back as one,
    anything else (a hang, a crash, ``sys.exit``) is a BackendError naming the plugin."""
    from .reporting import backend_package
    from .worker import Guard, plugin_time_limit

    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    backend = registry.backend(algorithm)  # unknown: the usual ConfigError
    if not is_plugin_backend(algorithm, registry):
        return backend.validate(dict(params or {}))
    limit = time_limit if time_limit is not None else plugin_time_limit()
    with Guard(limit) as guard:
        outcome = guard.call("metaclust_automl.running.backend_runner:validate_job",
                             {"algorithm": algorithm, "params": dict(params or {})})
    package = backend_package(algorithm)
    if outcome.ok:
        validated = outcome.result.get("params")
        if isinstance(validated, dict):
            return validated
        raise BackendError(f"plugin {package}: backend {algorithm!r} validate() returned no parameters")
    if outcome.status == "failed" and outcome.error.startswith("ConfigError: "):
        raise ConfigError(outcome.error[len("ConfigError: "):])
    what = "timed out" if outcome.status == "timeout" else "failed"
    raise BackendError(f"plugin {package}: backend {algorithm!r} {what} checking its parameters "
                       f"({outcome.error})")


def checked_run(algorithm: str, outcome: Any, n: int) -> Any:
    """A ``ClusterRun`` from a worker's reply, checked in the parent: the worker ran code that
    is not ours (a plugin may override ``Backend.run``), so its labels are normalised here
    (one integer per row, noise -1) and every field must have the right type; else BackendError."""
    from ..backends.base import ClusterRun, normalise_labels

    labels = outcome.arrays.get("labels")
    if labels is None:
        raise BackendError(f"algorithm {algorithm!r} returned no labels")
    labels = normalise_labels(labels, n, f"algorithm {algorithm!r}")
    r = outcome.result
    try:
        params, resolved, notes = r["params"], r["resolved"], r.get("notes", [])
        if not (isinstance(params, dict) and isinstance(resolved, dict) and isinstance(notes, list)):
            raise TypeError("params, resolved and notes must be a dict, a dict and a list")
        seconds, fitted, assigned = float(r["seconds"]), int(r["fitted_rows"]), int(r["assigned_rows"])
        if not (math.isfinite(seconds) and 0 <= fitted <= n and 0 <= assigned <= n):
            raise ValueError("seconds or row counts out of range")
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise BackendError(f"algorithm {algorithm!r} returned a malformed run ({exc})") from None
    return ClusterRun(labels=labels, params=params, resolved=resolved, seconds=seconds, fitted_rows=fitted,
                      assigned_rows=assigned, notes=[str(x)[:500] for x in notes])


# -- jobs run in the guard worker --------------------------------------------------------

def validate_job(arrays: dict[str, np.ndarray], algorithm: str, params: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Guarded job: a backend's ``validate`` (used by :func:`validate_params`)."""
    from ..plugins import get_registry

    return {"params": get_registry().backend(algorithm).validate(params)}, {}


def _job_table(arrays: dict[str, np.ndarray], table: int | None) -> np.ndarray:
    if "X" in arrays:
        return arrays["X"]
    X = _TABLES.get(int(table)) if table is not None else None
    if X is None:
        raise BackendError("the worker process did not inherit the table (internal error)")
    rows = arrays.get("rows")
    return X if rows is None else X[rows]


def run_job(arrays: dict[str, np.ndarray], algorithm: str, params: dict[str, Any], seed: int,
            table: int | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Guarded job: one backend run on the bound table (or its rows ``arrays['rows']``)."""
    from ..plugins import get_registry

    run = get_registry().backend(algorithm).run(_job_table(arrays, table), params, seed=seed)
    return ({"params": run.params, "resolved": run.resolved, "seconds": run.seconds,
             "fitted_rows": run.fitted_rows, "assigned_rows": run.assigned_rows, "notes": run.notes},
            {"labels": run.labels})


def resolve_job(arrays: dict[str, np.ndarray], algorithm: str, params: dict[str, Any], seed: int,
                table: int | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Guarded job: a backend's concrete parameters for the bound table."""
    from ..plugins import get_registry
    from ..backends.resolve import resolve_params

    resolved = resolve_params(get_registry().backend(algorithm), _job_table(arrays, table), params, seed)
    return {"resolved": resolved}, {}
