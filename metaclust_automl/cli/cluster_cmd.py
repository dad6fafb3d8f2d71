"""``metaclust cluster``: run one backend (or the recommendation) and write one label per row."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table as RichTable

from ..running.backend_runner import DEFAULT_TIME_LIMIT
from .app import (CategoricalOpt, NumericOpt, ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, SeedOpt, TimeLimitOpt, app,
                  console, err_console, load_for_cli)


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
    categorical: CategoricalOpt = None,
    numeric: NumericOpt = None,
    as_json: JsonOpt = False,
    budget: Annotated[int, typer.Option("--budget", min=0, help="Without --algorithm: configurations the selector may run on a sample of the table before choosing.")] = 0,
    selector: Annotated[Optional[str], typer.Option("--selector", help="Without --algorithm: the meta-learner that chooses (default: the best one in the benchmark).")] = None,
    kb: Annotated[Optional[str], typer.Option("--kb", help="Without --algorithm: knowledge base directory (default: the shipped one).")] = None,
    labels: Annotated[Optional[str], typer.Option("--labels", help="Without --algorithm: a few known labels, one per row (empty or -1 = unknown), to adapt the choice.")] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Also write a 2-D projection coloured by cluster to this PNG file.")] = None,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    save_model: Annotated[Optional[str], typer.Option("--save-model", metavar="DIR", help="Also save the fitted model (plain files) to this directory, for `metaclust predict`.")] = None,
) -> None:
    """Cluster a table and write one label per input row (noise = -1)."""
    from ..atomic import check_distinct, check_output_path
    from ..errors import ConfigError
    from ..running.backend_runner import BackendRunner, validate_params
    from .app import option_time_limit
    from ..loading import write_labels_csv
    from ..params import parse_assignments

    time_limit = option_time_limit(time_limit)
    if output and output != "-":
        check_output_path(output)
    if plot:
        check_output_path(plot)
    if save_model:
        check_model_dir(save_model)
    check_distinct({"--output": output, "--plot": plot}, {"DATA": data, "--labels": labels})
    params = parse_assignments(set_ or [])
    if algorithm is None:
        if params:
            raise ConfigError("--set needs --algorithm; without it the recommended configuration runs")
        _cluster_recommended(data, output, seed, columns, drop, label_column, impute, as_json,
                             budget, selector, kb, labels, plot, time_limit, categorical, numeric,
                             save_model)
        return
    validate_params(algorithm, params, time_limit)  # a bad parameter fails before a big file is read
    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    with err_console.status(f"running {algorithm} on {table.X.shape[0]} x {table.X.shape[1]}"), \
            BackendRunner(time_limit) as runner:  # a plugin's backend runs guarded
        runner.new_table(table.X)
        run = runner.run(algorithm, table.X, params, seed=seed)
    if output == "-":
        import sys
        sys.stdout.write("label\n" + "\n".join(map(str, run.labels.tolist())) + "\n")
    else:
        print_run(algorithm, run, as_json)
        if output:
            write_labels_csv(output, {"label": run.labels})
    if plot:
        write_plot(plot, table.X, run.labels, f"{algorithm}: {run.n_clusters} clusters")
    if save_model:
        write_model(save_model, table, algorithm, run, seed)


def check_model_dir(path: str) -> None:
    """Fail before any work when the model cannot be saved there."""
    from pathlib import Path

    from ..saved_model import MANIFEST_FILE, ModelError

    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ModelError(f"cannot save a model to {p}: directory {parent} does not exist")
    if p.exists() and (not p.is_dir() or (any(p.iterdir()) and not (p / MANIFEST_FILE).is_file())):
        raise ModelError(f"{p} exists and is not a metaclust model; choose a new or empty directory "
                         "(nothing was overwritten)")


def write_model(path: str, table, algorithm: str, run, seed: int) -> None:  # noqa: ANN001
    """Save the fitted model of a run on a loaded table."""
    from ..saved_model import SavedModel

    model = SavedModel.from_run(table.X, run.labels, algorithm, run.params, run.resolved,
                                table.columns, table.schema, seed=seed)
    model.save(path)
    err_console.print(f"saved the model to {path} (label new rows with `metaclust predict {path} NEW`)",
                      highlight=False, soft_wrap=True)


def _cluster_recommended(data, output, seed, columns, drop, label_column, impute, as_json,  # noqa: ANN001
                         budget, selector, kb, labels, plot, time_limit, categorical=None, numeric=None,
                         save_model=None) -> None:
    """The no-``--algorithm`` path: recommend (running up to ``budget`` configurations on a
    sample of the table first), then run the chosen configuration on every row."""
    from ..loading import write_labels_csv
    from .recommend_cmd import build_recommender, check_choice, few_shot_labels

    base = check_choice(selector, kb)
    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    known = few_shot_labels(table, labels)
    rec = build_recommender(selector, base, time_limit)
    n, d = table.X.shape
    with err_console.status(f"choosing a configuration for {n} x {d} and running it"):
        best, run, _ = rec.cluster(table.X, budget=budget, labels=known, seed=seed)
    extra = {"selector": best.selector, "predicted_score": round(best.predicted_score, 4),
             "reason": best.reason, "config_id": best.config_id, "budget": budget}
    if output == "-":
        import sys
        sys.stdout.write("label\n" + "\n".join(map(str, run.labels.tolist())) + "\n")
    else:
        if not as_json:
            err_console.print(f"chosen by the {best.selector} selector (predicted ARI {best.predicted_score:.2f}): "
                              f"{best.reason}", highlight=False, soft_wrap=True)
        print_run(best.algorithm, run, as_json, extra=extra)
        if output:
            write_labels_csv(output, {"label": run.labels})
    if plot:
        write_plot(plot, table.X, run.labels, f"{best.algorithm}: {run.n_clusters} clusters")
    if save_model:
        write_model(save_model, table, best.algorithm, run, seed)


def write_plot(path: str, X: np.ndarray, labels: np.ndarray, title: str, max_points: int = 20_000) -> None:
    """A 2-D view coloured by cluster (noise in grey): the columns themselves when there are
    two, else the first two principal components of a bounded sample. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..atomic import atomic_path

    rng = np.random.default_rng(0)
    idx = np.arange(X.shape[0]) if X.shape[0] <= max_points else np.sort(rng.choice(X.shape[0], max_points, replace=False))
    S, lab = X[idx], labels[idx]
    if S.shape[1] == 1:
        P2, axes = np.column_stack([S[:, 0], np.zeros(len(S))]), ("column 1", "")
    elif S.shape[1] == 2:
        P2, axes = S, ("column 1", "column 2")
    else:
        C = S - S.mean(axis=0)
        _, _, vt = np.linalg.svd(C, full_matrices=False)
        P2, axes = C @ vt[:2].T, ("PC 1", "PC 2")
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    noise = lab < 0
    if noise.any():
        ax.scatter(P2[noise, 0], P2[noise, 1], s=4, c="lightgrey", label="noise")
    ax.scatter(P2[~noise, 0], P2[~noise, 1], s=4, c=lab[~noise], cmap="tab20")
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
