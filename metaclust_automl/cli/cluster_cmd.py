"""``metaclust cluster``: run one backend (or the recommendation) and write one label per row."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table as RichTable

from ..running.backend_runner import DEFAULT_TIME_LIMIT
from .app import (ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, SeedOpt, TimeLimitOpt, app,
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
    as_json: JsonOpt = False,
    budget: Annotated[int, typer.Option("--budget", min=0, help="Without --algorithm: configurations the selector may run on a sample of the table before choosing.")] = 0,
    selector: Annotated[Optional[str], typer.Option("--selector", help="Without --algorithm: the meta-learner that chooses (default: the best one in the benchmark).")] = None,
    kb: Annotated[Optional[str], typer.Option("--kb", help="Without --algorithm: knowledge base directory (default: the shipped one).")] = None,
    labels: Annotated[Optional[str], typer.Option("--labels", help="Without --algorithm: a few known labels, one per row (empty or -1 = unknown), to adapt the choice.")] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Also write a 2-D projection coloured by cluster to this PNG file.")] = None,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    force: Annotated[bool, typer.Option("--force", help="Cluster even when the structure test finds no cluster structure.")] = False,
    explain_: Annotated[bool, typer.Option("--explain", help="Also print what sets each cluster apart (as metaclust explain).")] = False,
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
    check_distinct({"--output": output, "--plot": plot}, {"DATA": data, "--labels": labels})
    params = parse_assignments(set_ or [])
    if algorithm is None:
        if params:
            raise ConfigError("--set needs --algorithm; without it the recommended configuration runs")
        _cluster_recommended(data, output, seed, columns, drop, label_column, impute, as_json,
                             budget, selector, kb, labels, plot, time_limit, force, explain_)
        return
    validate_params(algorithm, params, time_limit)  # a bad parameter fails before a big file is read
    table = load_for_cli(data, columns, drop, label_column, impute)
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
    if explain_ and output != "-":
        print_explanation(table, run.labels, as_json)


def print_explanation(table, labels: np.ndarray, as_json: bool) -> None:  # noqa: ANN001
    """After clustering: what sets each cluster apart (stderr with --json, so stdout stays one object)."""
    from ..trust.explain import explain

    e = explain(table.X, labels, table.columns)
    target = err_console if as_json else console
    for line in e.lines():
        target.print(line, highlight=False, soft_wrap=True)


def _cluster_recommended(data, output, seed, columns, drop, label_column, impute, as_json,  # noqa: ANN001
                         budget, selector, kb, labels, plot, time_limit, force=False, explain_=False) -> None:
    """The no-``--algorithm`` path: recommend (running up to ``budget`` configurations on a
    sample of the table first), then run the chosen configuration on every row."""
    from ..loading import write_labels_csv
    from .recommend_cmd import build_recommender, check_choice, few_shot_labels

    base = check_choice(selector, kb)
    table = load_for_cli(data, columns, drop, label_column, impute)
    known = few_shot_labels(table, labels)
    rec = build_recommender(selector, base, time_limit)
    n, d = table.X.shape
    from ..trust.confidence import Confidence
    from ..trust.structure import structure_test
    from ..trust.verdict import no_structure_run, recommendation_confidence

    verdict = None
    if not force and known is None:
        with err_console.status(f"testing {n} x {d} for cluster structure"):
            verdict = structure_test(table.X, seed=seed)
    if verdict is not None and not verdict.has_structure:
        run = no_structure_run(n, verdict)
        conf = Confidence(verdict.certainty, verdict.certainty, 1.0, float("nan"))
        extra = {"structure": verdict.to_dict(), "confidence": round(conf.value, 4), "confidence_parts": None}
        algorithm = "none"
    else:
        with err_console.status(f"choosing a configuration for {n} x {d} and running it"):
            best, run, _ = rec.cluster(table.X, budget=budget, labels=known, seed=seed)
        with err_console.status("measuring the partition's confidence"):
            conf = recommendation_confidence(rec, table.X, best, run, seed=seed)
        extra = {"selector": best.selector, "predicted_score": round(best.predicted_score, 4),
                 "reason": best.reason, "config_id": best.config_id, "budget": budget,
                 "confidence": round(conf.value, 4), "confidence_parts": conf.to_dict(),
                 "structure": verdict.to_dict() if verdict is not None else None}
        algorithm = best.algorithm
    if output == "-":
        import sys
        sys.stdout.write("label\n" + "\n".join(map(str, run.labels.tolist())) + "\n")
    else:
        if not as_json and algorithm == "none":
            err_console.print(verdict.message, highlight=False, soft_wrap=True)
            run.notes.clear()
        elif not as_json:
            err_console.print(f"chosen by the {best.selector} selector (predicted ARI {best.predicted_score:.2f}): "
                              f"{best.reason}", highlight=False, soft_wrap=True)
            err_console.print(f"confidence {conf.value:.2f} (calibrated ARI {conf.calibrated:.2f}, stability over "
                              f"re-runs {conf.stability:.2f}; see README, 'Can I trust the answer?')", highlight=False)
        print_run(algorithm, run, as_json, extra=extra)
        if output:
            write_labels_csv(output, {"label": run.labels})
    if plot:
        write_plot(plot, table.X, run.labels, f"{algorithm}: {run.n_clusters} clusters")
    if explain_ and output != "-":
        print_explanation(table, run.labels, as_json)


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
