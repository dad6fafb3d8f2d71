"""``metaclust example``: write a generated example table to try the other commands on."""
from __future__ import annotations

from typing import Annotated

import typer

from .app import SeedOpt, app, err_console


@app.command("example")
def example(
    path: Annotated[str, typer.Argument(metavar="FILE", help="CSV file to write.")],
    kind: Annotated[str, typer.Option("--kind", metavar="KIND", help="blobs, moons, rings, anisotropic or mixed.")] = "mixed",
    n: Annotated[int, typer.Option("--rows", "-n", metavar="N", help="Number of rows.")] = 1000,
    with_labels: Annotated[bool, typer.Option("--with-labels", help="Add the true labels as column 'label'.")] = False,
    seed: SeedOpt = 0,
) -> None:
    """Write a generated example table (no download) to try metaclust on."""
    from ..atomic import check_output_path
    from ..examples import make_example
    from ..loading import write_labels_csv

    check_output_path(path)
    X, y = make_example(kind, n, seed)
    columns = {"x": X[:, 0].round(6), "y": X[:, 1].round(6)}
    if with_labels:
        columns["label"] = y
    write_labels_csv(path, columns)
    err_console.print(f"wrote {n} rows ({kind}) to {path}", highlight=False)
