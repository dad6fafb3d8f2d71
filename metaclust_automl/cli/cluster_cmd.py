"""``metaclust cluster``: run one backend (or the recommendation) and write one label per row."""
from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import numpy as np
import typer
from rich.table import Table as RichTable

from ..backends.noise import DEFAULT_NOISE, apply_policy, check_policy
from ..running.backend_runner import DEFAULT_TIME_LIMIT
from ..selectors.judge import DEFAULT_BUDGET
from .app import (CategoricalOpt, NumericOpt, ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, OutAliasOpt, ProgressOpt, SeedOpt,
                  TimeLimitOpt, app, console, err_console, load_for_cli, pick_output, status)


def cluster_sizes(labels: np.ndarray) -> dict[str, int]:
    ids, counts = np.unique(labels, return_counts=True)
    return {("noise" if i < 0 else str(int(i))): int(c) for i, c in zip(ids, counts)}


def reference_scores(table: Any, labels: np.ndarray) -> dict[str, Any] | None:
    """ACC, NMI and ARI against the table's reference labels (its label column), on the
    rows whose label is known; None when the table has none."""
    if table.labels is None:
        return None
    from ..metrics import external_scores
    from ..recommend import labels_to_codes

    codes = labels_to_codes(table.labels, labels.size)
    known = codes >= 0
    if not known.any():
        return None
    scores = external_scores(codes[known], labels[known])
    return {"label_column": table.label_column or "labels", "rows": int(known.sum()),
            **{k: round(float(v), 4) for k, v in scores.items()}}


def print_run(algorithm: str, run, as_json: bool, extra: dict | None = None,  # noqa: ANN001
              scores: dict | None = None) -> None:
    """Report a finished run: configuration, number and sizes of clusters, and the scores
    against reference labels when the table has them."""
    sizes = cluster_sizes(run.labels)
    payload = {"algorithm": algorithm, "params": run.params, "resolved": run.resolved,
               "n_rows": int(run.labels.size), "n_clusters": run.n_clusters,
               "noise": sizes.get("noise", 0), "noise_assigned": run.noise_assigned,
               "cluster_sizes": sizes,
               "seconds": round(run.seconds, 4), "notes": run.notes, **(extra or {})}
    if scores is not None:
        payload["scores"] = scores
    if as_json:
        print(json.dumps(payload, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
        return
    from .recommend_cmd import shown_params

    console.print(f"[bold]{algorithm}[/bold] {shown_params(run.resolved)}", highlight=False)
    # the summary is a line of its own (a table title wraps with the table's width)
    assigned = f" ({payload['noise_assigned']} given their nearest cluster)" if payload["noise_assigned"] else ""
    console.print(f"{run.n_clusters} clusters, {payload['noise']} noise rows{assigned}, {run.seconds:.2f} s",
                  highlight=False)
    t = RichTable()
    t.add_column("cluster", justify="right")
    t.add_column("rows", justify="right")
    t.add_column("share", justify="right")
    for k, v in sizes.items():
        t.add_row(k, str(v), f"{v / run.labels.size:.1%}")
    console.print(t)
    if scores is not None:
        console.print(f"against column {scores['label_column']!r} ({scores['rows']} labelled rows): "
                      f"ARI {scores['ari']:.3f}, NMI {scores['nmi']:.3f}, ACC {scores['acc']:.3f}",
                      highlight=False)
    for note in run.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _write_outputs(output: Optional[str], run, as_json: bool, print_it) -> None:  # noqa: ANN001
    """Labels to stdout ('-') or a file (and say where), else the report only."""
    from ..loading import write_labels_csv

    if output == "-":
        import sys

        sys.stdout.write("label\n" + "\n".join(map(str, run.labels.tolist())) + "\n")
        return
    print_it()
    if output:
        write_labels_csv(output, {"label": run.labels})
        if not as_json:
            err_console.print(f"wrote {run.labels.size} labels to {output}", highlight=False, soft_wrap=True)


@app.command("cluster")
def cluster(
    data: Annotated[str, typer.Argument(help="Table to cluster (CSV, TSV, parquet, .npy, .npz, text).")],
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", metavar="FILE", help="Write labels here (CSV, header 'label'); '-' for stdout.")] = None,
    out_alias: OutAliasOpt = None,
    algorithm: Annotated[Optional[str], typer.Option(
        "--algorithm", "-a", metavar="NAME", help="Backend to run (see metaclust plugins); default: the "
        "recommendation.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", metavar="KEY=VALUE", help="Backend parameter; repeatable. n_clusters sets k for every "
        "k-based backend.")] = None,
    seed: SeedOpt = 0,
    columns: ColumnsOpt = None,
    drop: DropOpt = None,
    label_column: LabelColumnOpt = None,
    impute: ImputeOpt = None,
    categorical: CategoricalOpt = None,
    numeric: NumericOpt = None,
    as_json: JsonOpt = False,
    budget: Annotated[int, typer.Option(
        "--budget", min=0, metavar="N", help="Without --algorithm: configurations run on a sample of the "
        "table before choosing: the selector's first N, ordered by a learned judge (0: meta-features only).")] = DEFAULT_BUDGET,
    selector: Annotated[Optional[str], typer.Option(
        "--selector", metavar="NAME", help="Without --algorithm: the meta-learner that chooses (default: "
        "knn, the best one leave-one-battery-out on the dev datasets).")] = None,
    kb: Annotated[Optional[str], typer.Option(
        "--kb", metavar="DIR", help="Without --algorithm: knowledge base directory (default: the shipped "
        "one).")] = None,
    selectors_dir: Annotated[Optional[str], typer.Option(
        "--selectors-dir", metavar="DIR", help="Without --algorithm: fitted selector weights (default: "
        "KB/selectors, then the shipped ones).")] = None,
    labels: Annotated[Optional[str], typer.Option(
        "--labels", metavar="FILE", help="Without --algorithm: a few known labels, one per row (empty or "
        "-1 = unknown), to adapt the choice.")] = None,
    plot: Annotated[Optional[str], typer.Option(
        "--plot", metavar="FILE", help="Also write a PNG: the table as the configuration saw it (after its "
        "preprocessing; 2 principal components beyond two columns), coloured by cluster.")] = None,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    progress: ProgressOpt = True,
    save_model: Annotated[Optional[str], typer.Option("--save-model", metavar="DIR", help="Also save the fitted model (plain files) to this directory, for `metaclust predict`.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Cluster even when the structure test finds no cluster structure.")] = False,
    explain_: Annotated[bool, typer.Option("--explain", help="Also print what sets each cluster apart (as metaclust explain).")] = False,
    noise: Annotated[str, typer.Option(
        "--noise", metavar="assign|keep", help="Rows a density method leaves as noise: 'assign' gives each "
        "its nearest cluster's label (what the knowledge base scores), 'keep' writes them as -1.")] = DEFAULT_NOISE,
) -> None:
    """Cluster a table and write one label per input row (with --noise keep, noise = -1).

    With reference labels (a column named 'label', or --label-column), also prints ARI,
    NMI and clustering accuracy against them.
    """
    from ..atomic import check_distinct, check_output_path
    from ..errors import ConfigError
    from ..running.backend_runner import BackendRunner, validate_params
    from .app import option_time_limit
    from ..params import parse_assignments

    output = pick_output(output, out_alias)
    time_limit = option_time_limit(time_limit)
    if output and output != "-":
        check_output_path(output)
    if plot:
        check_output_path(plot)
    if save_model:
        check_model_dir(save_model)
    check_distinct({"--output": output, "--plot": plot}, {"DATA": data, "--labels": labels})
    params = parse_assignments(set_ or [])
    check_policy(noise)
    if algorithm is None:
        if params:
            raise ConfigError("--set needs --algorithm; without it the recommended configuration runs")
        _cluster_recommended(data, output, seed, columns, drop, label_column, impute, as_json,
                             budget, selector, kb, selectors_dir, labels, plot, time_limit, progress,
                             categorical, numeric, save_model, force, explain_, noise)
        return
    validate_params(algorithm, params, time_limit)  # a bad parameter fails before a big file is read
    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    with status(f"running {algorithm} on {table.X.shape[0]} x {table.X.shape[1]}", progress), \
            BackendRunner(time_limit) as runner:  # a plugin's backend runs guarded
        runner.new_table(table.X)
        run = apply_policy(runner.run(algorithm, table.X, params, seed=seed), table.X, noise, seed)
    scores = reference_scores(table, run.labels)
    _write_outputs(output, run, as_json, lambda: print_run(algorithm, run, as_json, scores=scores))
    if plot:
        write_plot(plot, table.X, run.labels, algorithm, run, data, seed)
    if save_model:
        write_model(save_model, table, algorithm, run, seed)

    if explain_ and output != "-":
        print_explanation(table, run.labels, as_json)


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
                                table.columns, table.schema, seed=seed, noise_assigned=bool(run.noise_assigned))
    model.save(path)
    err_console.print(f"saved the model to {path} (label new rows with `metaclust predict {path} NEW`)",
                      highlight=False, soft_wrap=True)


def print_explanation(table, labels: np.ndarray, as_json: bool) -> None:  # noqa: ANN001
    """After clustering: what sets each cluster apart (stderr with --json, so stdout stays one object)."""
    from ..trust.explain import explain

    e = explain(table.X, labels, table.columns)
    target = err_console if as_json else console
    for line in e.lines():
        target.print(line, highlight=False, soft_wrap=True)


def _cluster_recommended(data, output, seed, columns, drop, label_column, impute, as_json,  # noqa: ANN001
                         budget, selector, kb, selectors_dir, labels, plot, time_limit, progress,
                         categorical=None, numeric=None, save_model=None, force=False, explain_=False,
                         noise=DEFAULT_NOISE) -> None:
    """The no-``--algorithm`` path: recommend (running up to ``budget`` configurations on a
    sample of the table first), then run the chosen configuration on every row."""
    from .recommend_cmd import build_recommender, check_choice, few_shot_labels, probe_lines

    base = check_choice(selector, kb)
    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    known = few_shot_labels(table, labels)
    rec = build_recommender(selector, base, time_limit, selectors_dir, progress)
    n, d = table.X.shape
    from ..trust.confidence import Confidence
    from ..trust.structure import structure_test
    from ..trust.verdict import no_structure_run, recommendation_confidence

    verdict = None
    if not force and known is None:
        with status(f"testing {n} x {d} for cluster structure", progress):
            verdict = structure_test(table.X, seed=seed)
    probes: list[str] = []
    best = None
    if verdict is not None and not verdict.has_structure:
        run = no_structure_run(n, verdict)
        conf = Confidence(verdict.certainty, verdict.certainty, 1.0, float("nan"))
        extra = {"structure": verdict.to_dict(), "confidence": round(conf.value, 4), "confidence_parts": None}
        algorithm = "none"
    else:
        with status(f"choosing a configuration for {n} x {d} and running it", progress):
            best, run, _ = rec.cluster(table.X, budget=budget, labels=known, seed=seed, noise=noise)
        with status("measuring the partition's confidence", progress):
            conf = recommendation_confidence(rec, table.X, best, run, seed=seed)
        probes = probe_lines(rec)
        extra = {"selector": best.selector, "predicted_score": round(best.predicted_score, 4),
                 "reason": best.reason, "config_id": best.config_id, "budget": budget, "probes": probes[1:],
                 "confidence": round(conf.value, 4), "confidence_parts": conf.to_dict(),
                 "structure": verdict.to_dict() if verdict is not None else None}
        algorithm = best.algorithm
    scores = reference_scores(table, run.labels)

    def report() -> None:
        if not as_json and best is None:
            err_console.print(verdict.message, highlight=False, soft_wrap=True)
            run.notes.clear()
        elif not as_json:
            for line in probes:
                err_console.print(line, highlight=False)
            err_console.print(f"chosen by the {best.selector} selector (predicted ARI {best.predicted_score:.2f}): "
                              f"{best.reason}", highlight=False, soft_wrap=True)
            err_console.print(f"confidence {conf.value:.2f} (calibrated ARI {conf.calibrated:.2f}, stability over "
                              f"re-runs {conf.stability:.2f}; see README, 'Can I trust the answer?')", highlight=False)
        print_run(algorithm, run, as_json, extra=extra, scores=scores)

    _write_outputs(output, run, as_json, report)
    if plot:
        write_plot(plot, table.X, run.labels, algorithm, run, data, seed)
    if save_model and best is not None:
        write_model(save_model, table, best.algorithm, run, seed)
    if explain_ and output != "-":
        print_explanation(table, run.labels, as_json)


def clustered_space(X: np.ndarray, algorithm: str, params: dict[str, Any], seed: int = 0) -> np.ndarray:
    """The table the configuration clustered: after its preprocessing (scaling, whitening)."""
    from .. import preprocess

    # a run's parameters are validated (``preprocess`` is always there); never call a
    # plugin's code here, outside its guarded worker
    return preprocess.apply(X, str(params.get("preprocess", "none")), seed=seed)


def write_plot(path: str, X: np.ndarray, labels: np.ndarray, algorithm: str, run: Any, source: str,
               seed: int = 0, max_points: int = 20_000) -> None:
    """A 2-D view of the space the configuration clustered in, coloured by cluster, with a
    legend (noise in grey, labelled) and a title naming the algorithm, its parameters for
    this table and the file. Beyond two columns: the first two principal components of a
    bounded sample. Written atomically."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..atomic import atomic_path
    from .recommend_cmd import shown_params

    Z = clustered_space(X, algorithm, dict(run.params), seed)
    method = run.params.get("preprocess", "none")
    rng = np.random.default_rng(0)
    idx = np.arange(Z.shape[0]) if Z.shape[0] <= max_points else np.sort(rng.choice(Z.shape[0], max_points, replace=False))
    S, lab = Z[idx], labels[idx]
    space = "" if method in (None, "none") else f" ({method})"
    if S.shape[1] == 1:
        P2, axes = np.column_stack([S[:, 0], np.zeros(len(S))]), (f"column 1{space}", "")
    elif S.shape[1] == 2:
        P2, axes = S, (f"column 1{space}", f"column 2{space}")
    else:
        C = S - S.mean(axis=0)
        _, sv, vt = np.linalg.svd(C, full_matrices=False)
        share = (sv ** 2) / max(float((sv ** 2).sum()), 1e-300)
        P2 = C @ vt[:2].T
        axes = (f"PC 1 of the clustered space{space}, {share[0]:.0%} of variance",
                f"PC 2, {share[1]:.0%} of variance")
    fig, ax = plt.subplots(figsize=(7, 5.5), dpi=110)
    noise = lab < 0
    if noise.any():
        ax.scatter(P2[noise, 0], P2[noise, 1], s=5, c="lightgrey", label=f"noise (-1): {int(noise.sum())}")
    ids = [int(i) for i in np.unique(lab[~noise])]
    cmap = plt.get_cmap("tab20")
    for j, cid in enumerate(ids):
        m = lab == cid
        ax.scatter(P2[m, 0], P2[m, 1], s=5, color=cmap(j % 20),
                   label=f"cluster {cid}: {int(m.sum())}" if j < 20 else None)
    if noise.any() or ids:
        ax.legend(loc="best", fontsize=7, markerscale=2, title=(f"{len(ids)} clusters" if len(ids) > 20 else None))
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    shown = shown_params(run.resolved)
    ax.set_title(f"{algorithm} on {os.path.basename(source)}: {run.n_clusters} clusters\n{shown}",
                 fontsize=9, wrap=True)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
