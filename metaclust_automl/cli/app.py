"""The typer application object and options shared by several commands."""
from __future__ import annotations

import math as _math
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__

app = typer.Typer(
    name="metaclust",
    help="Meta-learned clustering: which algorithm and parameters suit this table.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"metaclust {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """metaclust: recommends and runs clustering algorithms, learned from labelled datasets."""


# Options shared by every command that reads a table.
ColumnsOpt = Annotated[Optional[list[str]], typer.Option(
    "--columns", help="Use only these columns (name or 0-based index); repeatable.")]
DropOpt = Annotated[Optional[list[str]], typer.Option(
    "--drop", help="Drop this column (name or 0-based index); repeatable.")]
LabelColumnOpt = Annotated[Optional[str], typer.Option(
    "--label-column", help="Column holding reference labels; excluded from the features.")]
ImputeOpt = Annotated[Optional[str], typer.Option(
    "--impute", help="Fill missing/NaN/inf values with the column 'mean' or 'median'.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]
#: seeds numpy, scikit-learn and torch all accept
MAX_SEED = 2**32 - 1
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed; the same seed gives the same result.")]
TimeLimitOpt = Annotated[float, typer.Option(
    "--time-limit", metavar="SECONDS", help="Seconds each run of a plugin's (third-party) backend may take; "
    "one that raises, crashes or runs longer is reported once and the next candidate runs (0 = no "
    "limit). Built-in backends are not limited.")]


def shown(text: object) -> str:
    """``text`` as one line a terminal prints as is: rich markup escaped (a plugin named
    ``[/red]`` is text, not markup), control characters (a line break or ESC in a file name
    or a plugin's message) written as escapes."""
    raw = str(text)
    if not raw.isprintable():
        raw = "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)
    return escape(raw)


def load_for_cli(path: str, columns, drop, label_column, impute):  # noqa: ANN001, ANN201
    """Load a table and report the loader's warnings on stderr."""
    from ..loading import load_table

    table = load_table(path, columns=columns or None, drop=drop or (), label_column=label_column,
                       impute=impute)
    for message in table.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {shown(message)}", highlight=False, soft_wrap=True)
    return table


def option_time_limit(value: float) -> float | None:
    """A command line's ``--time-limit``: seconds, 0 = no limit. It also becomes the limit of
    every other piece of plugin code the command runs (``running.worker.set_plugin_time_limit``)."""
    from ..errors import ConfigError
    from ..running.worker import set_plugin_time_limit

    if value == 0:
        set_plugin_time_limit(None)
        return None
    if not (value > 0 and _math.isfinite(value)):
        raise ConfigError(f"--time-limit must be a positive number of seconds (or 0 for none), got {value:g}")
    set_plugin_time_limit(float(value))
    return float(value)
