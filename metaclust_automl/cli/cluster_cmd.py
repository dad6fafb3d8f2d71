"""``metaclust cluster``: run one backend (or the recommendation) and write one label per row."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table as RichTable

from .app import (ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, SeedOpt, app, console,
                  err_console, load_for_cli)


def cluster_sizes(labels: np.ndarray) -> dict[str, int]:
    ids, counts = np.unique(labels, return_counts=True)
    return {("noise" if i < 0 else str(int(i))): int(c) for i, c in zip(ids, counts)}


def print_run(algorithm: str, run, as_json: bool, extra: dict | None = None) -> None:  # noqa: ANN001
    """Report a finished run: configuration, number and sizes of clusters."""
    sizes = cluster_sizes(run.labels)
    payload = {"algorithm": algorithm, "params": run.params, "resolved": run.resolved,
               "n_rows": int(run.labels.size), "n_clusters": run.n_clusters,
               "noise": sizes.get("noise", 0), "cluster_sizes": sizes,
               "seconds": round(run.seconds, 4), "notes": run.notes, **(extra or {})}
    if as_json:
        print(json.dumps(payload, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
        return
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in run.resolved.items())
    console.print(f"[bold]{algorithm}[/bold] {shown}", highlight=False)
    t = RichTable(title=f"{run.n_clusters} clusters, {payload['noise']} noise rows, {run.seconds:.2f} s")
    t.add_column("cluster", justify="right")
    t.add_column("rows", justify="right")
    t.add_column("share", justify="right")
    for k, v in sizes.items():
        t.add_row(k, str(v), f"{v / run.labels.size:.1%}")
    console.print(t)
    for note in run.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)


@app.command("cluster")
def cluster(
    data: Annotated[str, typer.Argument(help="Table to cluster (CSV, TSV, parquet, .npy, .npz, text).")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write labels here (CSV, header 'label'); '-' for stdout.")] = None,
    algorithm: Annotated[Optional[str], typer.Option("--algorithm", "-a", help="Backend to run (see metaclust plugins); default: the recommendation.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Backend parameter key=value; repeatable.")] = None,
    seed: SeedOpt = 0,
    columns: ColumnsOpt = None,
    drop: DropOpt = None,
    label_column: LabelColumnOpt = None,
    impute: ImputeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cluster a table and write one label per input row (noise = -1)."""
    from ..atomic import check_output_path
    from ..errors import ConfigError
    from ..loading import write_labels_csv
    from ..params import parse_assignments
    from ..plugins import get_registry

    if output and output != "-":
        check_output_path(output)
    params = parse_assignments(set_ or [])
    if algorithm is None:
        raise ConfigError("no --algorithm given and no recommender is installed yet; "
                          "pick one from `metaclust plugins`")
    backend = get_registry().backend(algorithm)
    backend.validate(params)  # fail on a bad parameter before reading a big file
    table = load_for_cli(data, columns, drop, label_column, impute)
    with err_console.status(f"running {algorithm} on {table.X.shape[0]} x {table.X.shape[1]}"):
        run = backend.run(table.X, params, seed=seed)
    if output == "-":
        import sys
        sys.stdout.write("label\n" + "\n".join(map(str, run.labels.tolist())) + "\n")
    else:
        print_run(algorithm, run, as_json)
        if output:
            write_labels_csv(output, {"label": run.labels})
