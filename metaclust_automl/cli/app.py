"""The typer application object and options shared by several commands."""
from __future__ import annotations

import math as _math
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..threads import table_threads
from .help_style import install as _install_help_style

_install_help_style()

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
    "--columns", metavar="COLS", help="Use only these columns (names or 0-based indices); repeatable or "
    "comma-separated.")]
DropOpt = Annotated[Optional[list[str]], typer.Option(
    "--drop", metavar="COLS", help="Drop these columns (names or 0-based indices); repeatable or comma-separated.")]
LabelColumnOpt = Annotated[Optional[str], typer.Option(
    "--label-column", metavar="COL", help="Column of reference labels, never used as a feature (default: a "
    "column named 'label', if any; 'none': keep every column as a feature).")]
ImputeOpt = Annotated[Optional[str], typer.Option(
    "--impute", metavar="mean|median", help="Fill missing/NaN/inf values with the column mean or median.")]
CategoricalOpt = Annotated[Optional[list[str]], typer.Option(
    "--categorical", metavar="COL", help="Treat this column as categorical (name or 0-based index); repeatable.")]
NumericOpt = Annotated[Optional[list[str]], typer.Option(
    "--numeric", metavar="COL", help="Treat this column as numbers, never as categories; repeatable.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]
#: seeds numpy, scikit-learn and torch all accept
MAX_SEED = 2**32 - 1
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, metavar="N",
                                      help="Random seed; the same seed gives the same result.")]
ProgressOpt = Annotated[bool, typer.Option(
    "--progress/--no-progress", help="Show progress bars and spinners on stderr.")]
TimeLimitOpt = Annotated[float, typer.Option(
    "--time-limit", metavar="SECONDS", help="Seconds each run of a plugin's (third-party) backend may take; "
    "one that raises, crashes or runs longer is reported once and the next candidate runs (0 = no "
    "limit). Built-in backends are not limited.")]
#: the old spelling of -o/--output (``--out``), still accepted but not shown in --help
OutAliasOpt = Annotated[Optional[str], typer.Option("--out", hidden=True)]

#: a column of this name holds reference labels unless --label-column says otherwise
DEFAULT_LABEL_COLUMN = "label"


def pick_output(output: Optional[str], alias: Optional[str]) -> Optional[str]:
    """-o/--output, or its old spelling --out (hidden); both at once must agree."""
    if output is not None and alias is not None and output != alias:
        from ..errors import ConfigError

        raise ConfigError("give the output once, with -o/--output (--out is its old spelling)")
    return output if output is not None else alias


def split_list(values: Optional[list[str]]) -> Optional[list[str]]:
    """A list option given repeated, comma-separated, or both (``--x a,b --x c``)."""
    if values is None:
        return None
    return [item.strip() for v in values for item in str(v).split(",") if item.strip()]


def status(message: str, progress: bool = True) -> Any:
    """A spinner on stderr while a step runs (nothing with --no-progress)."""
    if not progress:
        from contextlib import nullcontext

        return nullcontext()
    return err_console.status(message)


def _header_names(path: str) -> list[str]:
    """Column names of a table, read cheaply (first line or parquet schema); [] when unknown."""
    import re
    from pathlib import Path

    p = Path(path)
    name = p.name.lower()
    try:
        if str(path) == "-" or not p.is_file():  # a pipe is read once: never peek at it
            return []
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            return list(pq.read_schema(p).names)
        if name.endswith((".npy", ".npz")):
            return []
        if name.endswith(".gz"):
            import gzip

            with gzip.open(p, "rt", encoding="utf-8", errors="replace") as fh:
                first = fh.readline(65536)
        else:
            with open(p, encoding="utf-8", errors="replace") as fh:
                first = fh.readline(65536)
    except (OSError, ValueError, ImportError):
        return []
    return [t.strip().strip('"\'').strip() for t in re.split(r"[,\t;|]|\s+", first.strip())]


def _auto_label_column(path: str, columns, drop) -> Optional[str]:  # noqa: ANN001
    """'label' when the table has a column of that name the user did not ask for as a feature."""
    wanted = set(split_list(columns) or []) | set(split_list(drop) or [])
    if DEFAULT_LABEL_COLUMN in wanted:
        return None
    return DEFAULT_LABEL_COLUMN if DEFAULT_LABEL_COLUMN in _header_names(path) else None


def shown(text: object) -> str:
    """``text`` as one line a terminal prints as is: rich markup escaped (a plugin named
    ``[/red]`` is text, not markup), control characters (a line break or ESC in a file name
    or a plugin's message) written as escapes."""
    raw = str(text)
    if not raw.isprintable():
        raw = "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)
    return escape(raw)


def load_for_cli(path: str, columns, drop, label_column, impute, categorical=None,  # noqa: ANN001, ANN201
                 numeric=None):  # noqa: ANN001
    """Load a table and report the loader's warnings on stderr; the rest of the command runs
    under the table's thread limits (``threads.table_threads``).

    A column named ``label`` holds reference labels unless ``--label-column`` names another
    (or ``none``): it is never a feature (clustering iris with its labels as a fifth column
    would score ARI 1.0 by leaking them), and the user is told so in one line."""
    from ..errors import DataError
    from ..loading import load_table

    columns, drop = split_list(columns), split_list(drop) or ()
    auto = None
    if label_column is None:
        auto = label_column = _auto_label_column(path, columns, drop)
    elif label_column.lower() == "none":
        label_column = None
    try:
        table = load_table(path, columns=columns or None, drop=drop, label_column=label_column, impute=impute,
                           categorical=categorical or (), numeric=numeric or ())
    except DataError:
        if auto is None:
            raise
        auto = None  # the header was read wrong: load as the user asked
        table = load_table(path, columns=columns or None, drop=drop, label_column=None, impute=impute,
                           categorical=categorical or (), numeric=numeric or ())
    for message in table.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {shown(message)}", highlight=False, soft_wrap=True)
    for message in table.notes:
        err_console.print(f"note: {shown(message)}", highlight=False, soft_wrap=True)
    if auto is not None:
        err_console.print(f"note: column {auto!r} holds reference labels and is not used as a feature "
                          "(--label-column none keeps it)", highlight=False, soft_wrap=True)
    _TABLE_THREADS.append(table_threads(*table.X.shape))
    return table


#: the thread limits set for the tables a command loaded (``threads.table_threads``: one thread
#: on a small table); they hold for the rest of the command and ``cli.main`` lifts them after it
_TABLE_THREADS: list[Any] = []


def release_table_threads() -> None:
    """Give back the threads the command's tables were limited to (the command has ended)."""
    while _TABLE_THREADS:
        _TABLE_THREADS.pop().restore_original_limits()


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
