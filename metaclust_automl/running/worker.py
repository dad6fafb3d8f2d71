"""Running one configuration with a time limit, in a reusable worker process.

Why a process: a clustering backend (built-in or a third-party plugin) may hang, loop
for hours on an unlucky table, or crash the interpreter. A thread cannot be stopped; a
process can. :class:`Guard` keeps one worker process alive between calls (so a call
costs a message, not a fork), kills it when a call runs past its time limit and starts
a fresh one for the next call. A job that raises, or a worker that dies, gives a
``failed`` outcome; a job that runs too long gives ``timeout``. Neither ever propagates
into the caller, which records the outcome and carries on.

Messages are a JSON header plus raw numpy buffers (no pickle): a job is named by its
import path ``"package.module:function"``; it receives ``(arrays, **kwargs)`` and returns
``(result_dict, arrays_dict)``. On Linux the worker is forked, so it inherits what the
caller prepared (the plugin registry, the tasks of a meta-training run), and a job may
refer to that state instead of shipping arrays.

The worker knows nothing of backends or plugins: ``backend_runner`` runs backends in it,
``reporting`` says once per process which plugin failed.
"""
from __future__ import annotations

import importlib
import json
import math
import multiprocessing as mp
import os
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from ..errors import ConfigError

STATUSES = ("ok", "failed", "timeout")


@dataclass
class Outcome:
    """What became of one guarded call."""

    status: str
    result: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# -- wire format: a JSON header, then one raw buffer per array ----------------------------

def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _send(conn: Any, header: dict[str, Any], arrays: Mapping[str, np.ndarray] | None) -> None:
    arrays = dict(arrays or {})
    specs = []
    buffers = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.kind not in "biufc":
            raise ConfigError(f"guard: array {name!r} has dtype {a.dtype}; only numeric arrays are sent")
        specs.append([name, a.dtype.str, list(a.shape)])
        buffers.append(a)
    header = dict(header, arrays=specs)
    conn.send_bytes(json.dumps(header, default=_jsonable).encode("utf-8"))
    for a in buffers:
        conn.send_bytes(memoryview(a).cast("B") if a.size else b"")


def _recv(conn: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    header = json.loads(conn.recv_bytes().decode("utf-8"))
    arrays: dict[str, np.ndarray] = {}
    for name, dtype, shape in header.pop("arrays", []):
        raw = conn.recv_bytes()
        arrays[name] = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    return header, arrays


def resolve_job(path: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"``."""
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ConfigError(f"guard: job {path!r} is not of the form 'package.module:function'")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


# -- the worker process ----------------------------------------------------------------

def _limit_threads(threads: int | None) -> Any:
    if not threads:
        return None
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=threads)
    except Exception:  # noqa: BLE001 - threadpoolctl is optional; env vars still apply
        return None


def _stdout_to_stderr() -> None:
    """In the worker, whatever a job prints (Python or C code) goes to stderr: the caller's
    stdout carries results (``cluster -o -`` writes labels there) and nothing else."""
    import sys

    try:
        sys.stdout.flush()
        os.dup2(2, 1)
    except (OSError, ValueError):  # pragma: no cover - no usable fds: nothing to protect
        pass
    sys.stdout = sys.stderr


def _worker_main(conn: Any, other_end: Any, threads: int | None) -> None:
    """Serve jobs until the caller closes the pipe or sends ``stop``."""
    if other_end is not None:
        other_end.close()  # so that the caller's death gives us EOF
    _stdout_to_stderr()
    limiter = _limit_threads(threads)  # noqa: F841 - keeps the limits in force
    warnings.simplefilter("ignore")
    while True:
        try:
            header, arrays = _recv(conn)
        except (EOFError, OSError):
            return
        if header.get("op") == "stop":
            return
        start = time.perf_counter()
        try:
            fn = resolve_job(header["job"])
            result, out_arrays = fn(arrays, **header.get("kwargs", {}))
            reply = {"ok": True, "result": result or {}}
        except BaseException as exc:  # noqa: BLE001 - report anything, including SystemExit
            if isinstance(exc, KeyboardInterrupt):
                return
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reply = {"ok": False, "error": f"{type(exc).__name__}: {first}".rstrip(": "),
                     "traceback": traceback.format_exc(limit=8)}
            out_arrays = {}
        reply["seconds"] = time.perf_counter() - start
        try:
            _send(conn, reply, out_arrays)
        except (TypeError, ValueError, ConfigError) as exc:
            _send(conn, {"ok": False, "error": f"job returned an unsendable result: {exc}",
                         "seconds": reply["seconds"]}, {})
        except (BrokenPipeError, OSError):
            return


def _context() -> Any:
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def check_time_limit(value: float | None) -> float | None:
    """A time limit in seconds (None = none), or a ConfigError."""
    if value is None:
        return None
    try:
        limit = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"time limit must be a number of seconds, got {value!r}") from None
    if not (limit > 0 and math.isfinite(limit)):
        raise ConfigError(f"time limit must be a positive number of seconds, got {value!r}")
    return limit


#: seconds that plugin code run outside a backend (a backend's ``validate``, a meta-feature
#: group) may take in this process; a command's ``--time-limit`` sets it
_plugin_time_limit: list[float | None] = [300.0]


def plugin_time_limit() -> float | None:
    """The time limit for plugin code outside a backend run (see :func:`set_plugin_time_limit`)."""
    return _plugin_time_limit[0]


def set_plugin_time_limit(limit: float | None) -> None:
    """Make ``limit`` (seconds, None = none; a command sets its ``--time-limit``) the limit of
    every other piece of plugin code this process runs (``validate``, meta-feature groups), so
    that a plugin that hangs there cannot hold the command past it either."""
    _plugin_time_limit[0] = check_time_limit(limit)


class Closing:
    """``with`` support and a best-effort finaliser for objects that own a worker process:
    a forgotten worker must not outlive its owner."""

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


class Guard(Closing):
    """A reusable worker process that runs jobs with a time limit.

    ``time_limit`` (seconds, None = no limit) is the default for every call; ``threads``
    caps the BLAS/OpenMP threads of the worker (1 keeps parallel meta-training workers
    from fighting over cores). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, time_limit: float | None = None, *, threads: int | None = 1) -> None:
        self.time_limit = check_time_limit(time_limit)
        self.threads = threads
        self._proc: Any = None
        self._conn: Any = None
        self.restarts = 0

    # -- process management ---------------------------------------------------
    def _start(self) -> None:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        fork = ctx.get_start_method() == "fork"
        proc = ctx.Process(target=_worker_main, args=(child, parent if fork else None, self.threads),
                           daemon=True, name="metaclust-guard")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=10)
        self.restarts += 1

    def close(self) -> None:
        """Stop the worker process (politely, then by force)."""
        if self._proc is None:
            return
        try:
            _send(self._conn, {"op": "stop"}, {})
            self._proc.join(timeout=2)
        except (OSError, ValueError):
            pass
        self._kill()
        self.restarts -= 1

    # -- calls ----------------------------------------------------------------
    def call(self, job: str, kwargs: Mapping[str, Any] | None = None,
             arrays: Mapping[str, np.ndarray] | None = None, *, time_limit: float | None = None) -> Outcome:
        """Run ``job(arrays, **kwargs)`` in the worker; never raises for the job's sake."""
        limit = self.time_limit if time_limit is None else time_limit
        if self._proc is None or not self._proc.is_alive():
            if self._proc is not None:
                self._kill()
            self._start()
        start = time.perf_counter()
        try:
            _send(self._conn, {"job": job, "kwargs": dict(kwargs or {})}, arrays)
        except (BrokenPipeError, OSError) as exc:
            self._kill()
            return Outcome("failed", seconds=time.perf_counter() - start,
                           error=f"the worker process could not take the job: {exc}")
        if not self._conn.poll(limit):
            self._kill()
            return Outcome("timeout", seconds=time.perf_counter() - start,
                           error=f"stopped after the time limit of {limit:g} s")
        try:
            reply, out = _recv(self._conn)
        except (EOFError, OSError, ValueError) as exc:
            if self._proc is not None:
                self._proc.join(timeout=1)
            code = self._proc.exitcode if self._proc is not None else None
            self._kill()
            why = f"exit code {code}" if code is not None else f"{type(exc).__name__}"
            return Outcome("failed", seconds=time.perf_counter() - start,
                           error=f"the worker process died ({why})")
        seconds = float(reply.get("seconds", time.perf_counter() - start))
        if not reply.get("ok"):
            return Outcome("failed", seconds=seconds, error=str(reply.get("error", "unknown error")))
        return Outcome("ok", result=dict(reply.get("result") or {}), arrays=out, seconds=seconds)


# -- jobs for tests and diagnostics -------------------------------------------------------

def sleep_job(arrays: dict[str, np.ndarray], seconds: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Guarded job that sleeps (a stand-in for a hanging backend)."""
    time.sleep(seconds)
    return {"slept": seconds}, {}


def exit_job(arrays: dict[str, np.ndarray], code: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Guarded job that kills its worker process (a stand-in for a crashing extension)."""
    os._exit(code)
