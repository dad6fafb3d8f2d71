"""The ``metaclust`` command line (typer + rich).

Each command lives in its own module and registers itself on ``app``; ``main`` turns
every typed error into one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import importlib
import os
import sys
import warnings

import typer
from rich.markup import escape

from .. import __version__
from ..errors import MetaclustError
from .app import app, err_console

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
    "metaclust_automl.cli.trust_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name)


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    err_console.print(f"[yellow]warning:[/yellow] {escape(str(message))}", highlight=False, soft_wrap=True)


def _is_usage_error(exc: BaseException) -> bool:
    """Click's usage errors (vendored by recent typer, imported from click by older ones)."""
    return hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    warnings.showwarning = _show_warning
    debug = bool(os.environ.get("METACLUST_DEBUG"))
    try:
        app(args=argv, prog_name="metaclust", standalone_mode=False)
    except MetaclustError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        code = exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        err_console.print("[red]error:[/red] aborted", highlight=False)
        code = 130
    except KeyboardInterrupt:
        err_console.print("[red]error:[/red] interrupted", highlight=False)
        code = 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        if _is_usage_error(exc):
            message = " ".join(exc.format_message().split())
            err_console.print(f"[red]error:[/red] {escape(message)} (see metaclust --help)",
                              highlight=False, soft_wrap=True)
            return int(getattr(exc, "exit_code", 2) or 2)
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        err_console.print(f"[red]internal error:[/red] {type(exc).__name__}: {escape(first)} "
                          "(set METACLUST_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        code = 1
    else:
        code = 0
    return int(code or 0)


def run() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())


__all__ = ["app", "main", "run", "__version__"]
