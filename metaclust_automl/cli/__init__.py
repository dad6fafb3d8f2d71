"""The ``metaclust`` command line (typer + rich).

Each command lives in its own module and registers itself on ``app``; ``main`` turns
every typed error into one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys
import warnings

import typer

from .. import __version__
from ..errors import MetaclustError
from .app import app, err_console, shown

#: modules that add commands to ``app`` (imported for their side effect)
COMMAND_MODULES = (
    "metaclust_automl.cli.plugins_cmd",
    "metaclust_automl.cli.cluster_cmd",
    "metaclust_automl.cli.example_cmd",
    "metaclust_automl.cli.metatrain_cmd",
    "metaclust_automl.cli.metafeatures_cmd",
    "metaclust_automl.cli.evaluate_cmd",
    "metaclust_automl.cli.recommend_cmd",
    "metaclust_automl.cli.detect_cmd",
    "metaclust_automl.cli.predict_cmd",
    "metaclust_automl.cli.train_cmd",
    "metaclust_automl.cli.trust_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name)


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    err_console.print(f"[yellow]warning:[/yellow] {shown(message)}", highlight=False, soft_wrap=True)


def _error(message: object, label: str = "error") -> None:
    err_console.print(f"[red]{label}:[/red] {shown(message)}", highlight=False, soft_wrap=True)


#: exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it
INTERRUPTED = 130


class _InterruptFlag:
    """Remembers that SIGINT arrived. Typer turns a KeyboardInterrupt into ``Exit(130)``, which
    a non-standalone call returns like any exit code; the flag tells the two apart."""

    def __init__(self) -> None:
        self.seen = False
        self._previous = None

    def _handler(self, signum, frame):  # noqa: ANN001, ANN202
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self) -> "_InterruptFlag":
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: Python's own handler stays
            self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _is_usage_error(exc: BaseException) -> bool:
    """Click's usage errors (vendored by recent typer, imported from click by older ones)."""
    return hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)


def _reader_went_away(exc: SystemExit) -> bool:
    """True when the exit is rich's answer to a broken pipe on stdout (`metaclust ... | head`):
    rich points stdout at devnull and raises SystemExit(1), which is no plugin's doing."""
    return isinstance(exc.__context__, BrokenPipeError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code. The thread limits the
    command set for its table (``app.load_for_cli``) end with it."""
    from .app import release_table_threads

    try:
        return _main(argv)
    finally:
        release_table_threads()


def _main(argv: list[str] | None) -> int:
    warnings.showwarning = _show_warning
    debug = bool(os.environ.get("METACLUST_DEBUG"))
    with _InterruptFlag() as interrupt:
        try:
            try:
                code = app(args=argv, prog_name="metaclust", standalone_mode=False)
            except KeyboardInterrupt:  # raised outside the command (typer catches it inside)
                interrupt.seen = True
                code = INTERRUPTED
            if interrupt.seen or code == INTERRUPTED:
                _error("interrupted")
                code = INTERRUPTED
        except MetaclustError as exc:
            if interrupt.seen:  # Ctrl-C surfaced as another error (a worker stopped by it)
                _error("interrupted")
                return INTERRUPTED
            _error(exc)
            code = exc.exit_code
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            _error("aborted")
            code = INTERRUPTED
        except KeyboardInterrupt:
            _error("interrupted")
            code = INTERRUPTED
        except SystemExit as exc:  # a plugin that called sys.exit in the parent
            if _reader_went_away(exc):  # the reader of stdout went away (`| head`): no message
                return 1
            _error(f"a plugin stopped the command (SystemExit {exc.code!r}); it was not allowed to")
            code = 1
        except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
            if _is_usage_error(exc):
                message = " ".join(exc.format_message().split())
                _error(f"{message} (see metaclust --help)")
                return int(getattr(exc, "exit_code", 2) or 2)
            if interrupt.seen:
                _error("interrupted")
                return INTERRUPTED
            if debug:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _error(f"{type(exc).__name__}: {first} (set METACLUST_DEBUG=1 for the traceback)", "internal error")
            code = 1
    if not isinstance(code, int):
        code = 0
    return int(code or 0)


def run() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())


__all__ = ["app", "main", "run", "__version__"]
