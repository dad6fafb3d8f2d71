"""``metaclust metafeatures``: describe a table the way the recommender sees it."""
from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table as RichTable

from .app import (CategoricalOpt, NumericOpt, ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, ProgressOpt, SeedOpt, app, console,
                  load_for_cli, status)

SampleOpt = Annotated[int, typer.Option(
    "--sample-size", min=1, metavar="N", help="Rows used by every super-linear feature (cost is bounded by this).")]


@app.command("metafeatures")
def metafeatures(
    data: Annotated[str, typer.Argument(help="Table to describe (CSV, TSV, parquet, .npy, .npz, text).")],
    sample_size: SampleOpt = 2000,
    seed: SeedOpt = 0,
    columns: ColumnsOpt = None,
    drop: DropOpt = None,
    label_column: LabelColumnOpt = None,
    impute: ImputeOpt = None,
    categorical: CategoricalOpt = None,
    numeric: NumericOpt = None,
    as_json: JsonOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Print the meta-features of a table, grouped by kind (or a JSON object {name: value})."""
    from ..metafeatures import describe, extract

    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    n, d = table.X.shape
    with status(f"extracting meta-features of {n} x {d}", progress):
        values = extract(table.X, sample_size=sample_size, seed=seed)
    if as_json:
        print(json.dumps(values))
        return
    docs = describe()
    t = RichTable(title=f"{len(values)} meta-features of {table.source or data} ({n} x {d})")
    t.add_column("group")
    t.add_column("feature")
    t.add_column("value", justify="right")
    t.add_column("what it measures", overflow="fold")
    names = list(values)
    for i, name in enumerate(names):
        info = docs.get(name, {})
        group = str(info.get("group", name.split(".", 1)[0]))
        feature = str(info.get("feature", name.split(".", 1)[-1]))
        last = i + 1 == len(names) or not names[i + 1].startswith(group + ".")
        first = i == 0 or not names[i - 1].startswith(group + ".")
        t.add_row(group if first else "", feature, f"{values[name]:.4g}", str(info.get("description", "")),
                  end_section=last)
    console.print(t)
