"""``metaclust evaluate``: score selectors and blind baselines on a labelled corpus."""
from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..running.backend_runner import DEFAULT_TIME_LIMIT
from ..selectors.judge import DEFAULT_BUDGET
from .app import JsonOpt, OutAliasOpt, ProgressOpt, SeedOpt, TimeLimitOpt, app, console, err_console, pick_output, split_list


def _split(value: list[str] | None) -> list[str] | None:
    items = split_list(value)
    return [] if items == ["none"] else items


@app.command("evaluate")
def evaluate(
    corpus: Annotated[list[str], typer.Argument(help="Labelled corpus: directories of .data.gz + .labels0.gz, "
                                                     "CSV/parquet files with a label column, or .npz with X and y.")],
    kb: Annotated[Optional[str], typer.Option("--kb", metavar="DIR", help="Knowledge base directory (default: the shipped one). "
                                              "Its tasks that are also in CORPUS are never used to score themselves.")] = None,
    leave_one_out: Annotated[bool, typer.Option("--leave-one-out", help="Score each task with selectors fitted "
                                                "without it (and without its group when the corpus names groups) "
                                                "on a knowledge base built from CORPUS (or --kb built on it).")] = False,
    selectors: Annotated[Optional[list[str]], typer.Option(
        "--selectors", metavar="NAMES", help="Selectors to score; repeatable or comma-separated (default: every "
        "registered one; 'none' for none).")] = None,
    baselines: Annotated[bool, typer.Option("--baselines", help="Also run the blind baselines: DBSCAN and HDBSCAN "
                                            "defaults, KMeans with k by silhouette, Optuna TPE on silhouette.")] = False,
    budget: Annotated[int, typer.Option("--budget", min=0, metavar="N", help="Also score each selector with this budget "
                                        "(configurations run on the table before choosing; default: `metaclust "
                                        "cluster`'s, so the SELECTOR@N rows are what cluster runs; 0: zero-shot only).")] = DEFAULT_BUDGET,
    trials: Annotated[int, typer.Option("--trials", min=1, metavar="N", help="Optuna trials of the Optuna baseline (and per task "
                                        "and backend when --leave-one-out builds a knowledge base).")] = 50,
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", metavar="DIR", help="Directory for results.csv, report.md and the plots "
        "(default: evaluation).")] = None,
    out_alias: OutAliasOpt = None,
    label_column: Annotated[str, typer.Option("--label-column", metavar="COL", help="Label column of CSV/parquet corpus files.")] = "label",
    max_rows: Annotated[int, typer.Option("--max-rows", min=100, metavar="N", help="Above this many rows, the searching "
                                          "baselines and DBSCAN run on a random sample (said in the report).")] = 10_000,
    no_group: Annotated[bool, typer.Option("--no-group", help="With --leave-one-out, hold out only the task, "
                                           "not its group.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, metavar="N", help="Worker processes when building a knowledge base.")] = 1,
    seed: SeedOpt = 0,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Score selectors (top-1, and with --budget) and blind baselines on every task of a labelled corpus.

    With --json, stdout holds one JSON object (the per-task results and the summary); the progress bar and notes stay on stderr."""
    from ..atomic import check_output_dir
    from ..corpus import load_corpus
    from ..errors import ConfigError
    from ..evaluation.baselines import BASELINES
    from ..evaluation.leave_one_out import corpus_has_groups
    from ..evaluation.planning import choose
    from ..evaluation.report import write_outputs
    from ..evaluation.runner import Plan, evaluate_corpus
    from .app import option_time_limit
    from ..plugins import get_registry

    out = pick_output(output, out_alias) or "evaluation"
    limit = option_time_limit(time_limit)
    started = time.perf_counter()
    registry = get_registry()
    names = _split(selectors)
    if names is None:
        names = sorted(registry.selectors)
    for name in names:
        registry.selector(name)  # an unknown name fails before any work
    if not names and not baselines:
        raise ConfigError("nothing to evaluate: no selector is installed or named; add --baselines "
                          "or --selectors NAME (see `metaclust plugins`)")
    out_dir = check_output_dir(out)  # a file, a read-only or a missing parent fail before any work
    tasks = load_corpus(corpus, label_column=label_column)
    choice = choose(tasks, names, kb_dir=kb, leave_one_out=leave_one_out, no_group=no_group,
                    build_kb=lambda: _build_kb(tasks, out_dir / "kb", trials=trials, seed=seed, jobs=jobs,
                                               progress=progress))
    base, by_group, mode, notes = choice.kb, choice.by_group, choice.mode, choice.notes
    plan = Plan(selectors=names, baselines=list(BASELINES) if baselines else [], kb=base, by_group=by_group,
                budget=budget, trials=trials, seed=seed, max_rows=max_rows, notes=notes,
                time_limit=limit)
    results = evaluate_corpus(tasks, plan, progress=progress)
    setup = {
        "corpus": ", ".join(corpus) + f" ({len(tasks)} tasks" +
                  (f" in {len({t.group for t in tasks})} groups)" if corpus_has_groups([t.group for t in tasks]) else ")"),
        "knowledge base": (f"{base.path or '(in memory)'} ({len(base.tasks)} tasks x {len(base.configs)} configurations)"
                           if base is not None else "none"),
        "mode": mode,
        "selectors": ", ".join(names) or "none",
        "baselines": ", ".join(plan.baselines) or "none",
        "budget": budget,
        "Optuna trials": trials,
        "baselines sampled above": f"{max_rows} rows (DBSCAN defaults, KMeans-silhouette, Optuna-silhouette; "
                                   "HDBSCAN defaults always sees every row)",
        "seed": seed,
        "time limit": (f"{limit:g} s" if limit else "none") + " per run of a plugin's backend (built-ins unlimited)",
    }
    from .. import __version__

    setup["metaclust version"] = __version__
    setup["wall time"] = (f"{time.perf_counter() - started:.0f} s for the whole command on {os.cpu_count()} CPUs "
                          f"(1-min load average at the end: {os.getloadavg()[0]:.1f})")
    command = _command_line(corpus, kb=kb, leave_one_out=leave_one_out,
                            selectors=None if selectors is None else ",".join(split_list(selectors)),
                            baselines=baselines, budget=budget, trials=trials, output=out,
                            label_column=label_column, max_rows=max_rows, no_group=no_group, seed=seed,
                            time_limit=time_limit)
    written = write_outputs(results, out_dir if out_dir.exists() else _mkdir(out_dir), command=command,
                            setup=setup, notes=plan.notes)
    if as_json:
        print(json.dumps(_json_payload(results, setup, command, written), allow_nan=False))
    else:
        _print_summary(results)
    err_console.print(f"wrote {', '.join(str(p) for p in written.values())}", highlight=False, soft_wrap=True)


def _json_payload(results, setup: dict, command: str, written: dict) -> dict:  # noqa: ANN001
    """What --json prints: the per-task rows of results.csv and the summary table's numbers
    (``summarise``, the same function the table and report.md use)."""
    import dataclasses

    from ..backends.resolve import jsonable
    from ..evaluation.report import summarise

    # NaN and infinities as null: strict JSON has neither, and a failed run has no ARI
    return jsonable({"command": command, "setup": setup, "summary": summarise(results),
                    "results": [dataclasses.asdict(r) for r in results],
                    "written": {k: str(v) for k, v in written.items()}})


def _command_line(corpus: list[str], **opts: object) -> str:
    """The command that reproduces this evaluation (options at their default left out)."""
    defaults = {"kb": None, "leave_one_out": False, "selectors": None, "baselines": False, "budget": DEFAULT_BUDGET,
                "trials": 50, "output": "evaluation", "label_column": "label", "max_rows": 10_000,
                "no_group": False, "seed": 0, "time_limit": DEFAULT_TIME_LIMIT}
    parts = ["metaclust", "evaluate", *(shlex.quote(c) for c in corpus)]
    for key, value in opts.items():
        if value == defaults.get(key):
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, shlex.quote(str(value))]
    return " ".join(parts)


def _mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _build_kb(tasks, out_dir: Path, *, trials: int, seed: int, jobs: int, progress: bool = True):  # noqa: ANN001, ANN202
    """A knowledge base from the corpus itself (meta-training), stored under --out."""
    from ..errors import ConfigError

    try:
        from ..training.kb import build_knowledge_base
    except ImportError:
        raise ConfigError("--leave-one-out without --kb builds a knowledge base, but meta-training "
                          "(metaclust_automl.training.kb) is not installed; pass --kb DIR built on this corpus") from None
    _mkdir(out_dir.parent)
    err_console.print(f"building a knowledge base from {len(tasks)} tasks in {out_dir} ({trials} trials "
                      "per task and backend)", highlight=False)
    return build_knowledge_base(tasks, out_dir, trials=trials, jobs=jobs, seed=seed, progress=progress)


def _print_summary(results) -> None:  # noqa: ANN001
    from rich.table import Table as RichTable

    from ..evaluation.report import summarise

    t = RichTable(title="evaluation summary (ARI)")
    for col in ("method", "kind", "tasks", "mean", "median", "s / task", "regret"):
        t.add_column(col, justify="left" if col in ("method", "kind") else "right")
    for s in summarise(results):
        t.add_row(s["method"], s["kind"], str(s["tasks"]), f"{s['mean_ari']:.3f}", f"{s['median_ari']:.3f}",
                  "" if s["mean_seconds"] != s["mean_seconds"] else f"{s['mean_seconds']:.2f}",
                  "" if not s["regret_tasks"] or s["kind"] == "ceiling" else f"{s['mean_regret']:.3f}")
    console.print(t)
