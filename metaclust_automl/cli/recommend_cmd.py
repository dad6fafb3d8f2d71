"""``metaclust recommend`` (ranked configurations for a table) and ``metaclust train-selectors``
(fit the selectors on a knowledge base and save their weights as plain files)."""
from __future__ import annotations

import json
import time
from typing import Annotated, Any, Optional

import typer
from rich.table import Table as RichTable

from ..running.backend_runner import DEFAULT_TIME_LIMIT
from .app import (ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, SeedOpt, TimeLimitOpt, app,
                  console, err_console, load_for_cli)

TopOpt = Annotated[int, typer.Option("--top", min=1, help="How many ranked configurations to show.")]
SelectorOpt = Annotated[Optional[str], typer.Option(
    "--selector", help="Meta-learner to rank with (knn, maml, rl2 or a plugin's; default: the best one "
    "in the benchmark).")]
KbOpt = Annotated[Optional[str], typer.Option(
    "--kb", help="Knowledge base directory (default: the one shipped with metaclust).")]
BudgetOpt = Annotated[int, typer.Option(
    "--budget", min=0, help="Configurations the selector may run on a sample of the table before ranking.")]
LabelsOpt = Annotated[Optional[str], typer.Option(
    "--labels", help="A few known labels, one per row (empty or -1 = unknown), for few-shot adaptation.")]


def few_shot_labels(table: Any, labels_file: Optional[str]) -> Any:
    """Known labels from --labels FILE, or from a partially filled --label-column (its missing
    values = unknown). A completely filled label column holds reference labels: it is set
    aside and not used to choose."""
    from ..errors import DataError
    from ..loading import load_labels
    from ..recommend import labels_to_codes

    if labels_file is not None:
        if table.labels is not None:
            raise DataError("give known labels either with --labels or with --label-column, not both")
        return load_labels(labels_file)
    if table.labels is None:
        return None
    codes = labels_to_codes(table.labels, table.X.shape[0])
    return codes if (codes < 0).any() else None


def check_choice(selector: Optional[str], kb: Optional[str]) -> Any:
    """Fail on an unknown selector or a bad knowledge base before reading a big table;
    returns the loaded knowledge base."""
    from ..knowledge_base import KnowledgeBase, load_default
    from ..plugins import get_registry
    from ..recommend import DEFAULT_SELECTOR

    get_registry().selector(selector or DEFAULT_SELECTOR)
    return load_default() if kb is None else KnowledgeBase.load(kb)


def build_recommender(selector: Optional[str], kb: Any, time_limit: float | None = DEFAULT_TIME_LIMIT) -> Any:
    from ..recommend import Recommender

    with err_console.status(f"loading selector {selector or 'default'}"):
        return Recommender.default(selector=selector, kb=kb, time_limit=time_limit)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command("recommend")
def recommend(
    data: Annotated[str, typer.Argument(help="Table to analyse (CSV, TSV, parquet, .npy, .npz, text).")],
    top: TopOpt = 5,
    selector: SelectorOpt = None,
    kb: KbOpt = None,
    budget: BudgetOpt = 0,
    labels: LabelsOpt = None,
    seed: SeedOpt = 0,
    columns: ColumnsOpt = None,
    drop: DropOpt = None,
    label_column: LabelColumnOpt = None,
    impute: ImputeOpt = None,
    as_json: JsonOpt = False,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    force: Annotated[bool, typer.Option("--force", help="Skip the structure test (rank as if the table had clusters).")] = False,
) -> None:
    """Rank clustering configurations for a table: algorithm, parameters, predicted quality, why."""
    from .app import option_time_limit

    start = time.perf_counter()
    time_limit = option_time_limit(time_limit)
    base = check_choice(selector, kb)
    table = load_for_cli(data, columns, drop, label_column, impute)
    known = few_shot_labels(table, labels)
    rec = build_recommender(selector, base, time_limit)
    verdict = None
    if not force and known is None:
        from ..trust.structure import structure_test

        with err_console.status("testing the table for cluster structure"):
            verdict = structure_test(table.X, seed=seed)
        if not verdict.has_structure:  # said above the table (stderr with --json: stdout stays a list)
            (err_console if as_json else console).print(
                verdict.message.replace("every row is labelled 0; use --force to cluster anyway",
                                        "metaclust cluster will label every row 0 (--force clusters anyway); "
                                        "the ranking below is what --force would choose from"),
                highlight=False, soft_wrap=True)
    with err_console.status(f"ranking {len(rec.kb.configs)} configurations for "
                            f"{table.X.shape[0]} x {table.X.shape[1]}"):
        recs = rec.recommend(table.X, top=top, budget=budget, labels=known, seed=seed)
    elapsed = time.perf_counter() - start
    if as_json:
        print(json.dumps([r.to_dict() for r in recs], indent=1))
        return
    t = RichTable(title=f"Recommended for {data} ({table.X.shape[0]} x {table.X.shape[1]}) by "
                        f"{rec.selector.name}, {elapsed:.1f} s")
    t.add_column("rank", justify="right")
    t.add_column("algorithm")
    t.add_column("parameters for this table")
    t.add_column("predicted ARI", justify="right")
    t.add_column("reason")
    for r in recs:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in r.resolved.items())
        t.add_row(str(r.rank), r.algorithm, shown, f"{r.predicted_score:.2f}", r.reason)
    console.print(t)


@app.command("train-selectors")
def train_selectors(
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base directory to learn from.")],
    out: Annotated[str, typer.Option("--out", help="Directory for the weights (one subdirectory per "
                                                   "selector); metaclust_automl/data/selectors ships them.")],
    selector: Annotated[Optional[list[str]], typer.Option(
        "--selector", help="Train only this selector; repeatable (default: knn, maml and rl2).")] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Fit selectors on a knowledge base and save them as plain files (JSON + safetensors)."""

    from ..atomic import check_output_dir
    from ..errors import DataError
    from ..knowledge_base import KnowledgeBase
    from ..plugins import get_registry
    from ..selectors.base import fit_seeded

    names = list(selector or ["knn", "maml", "rl2"])
    reg = get_registry()
    factories = {n: reg.selector(n) for n in names}  # unknown names fail before any work
    out_dir = check_output_dir(out)  # its parent must exist and be writable; OUT itself is created
    for name in names:  # OUT/NAME is replaced whole: only a new, empty or selector directory
        sub = out_dir / name
        if sub.is_dir() and any(sub.iterdir()) and not (sub / "selector.json").is_file():
            raise DataError(f"cannot write the {name} selector to {sub}: the directory holds other files, "
                            "which writing it would delete; choose another --out")
    base = KnowledgeBase.load(kb)
    report = []
    for name in names:
        start = time.perf_counter()
        with err_console.status(f"training {name} on {len(base.tasks)} tasks x {len(base.configs)} configurations"):
            sel = fit_seeded(factories[name](), base, seed)
            sel.save(out_dir / name)
        info = {"selector": name, "seconds": round(time.perf_counter() - start, 1),
                "validation_top1": getattr(sel, "val_top1_", None), "path": str(out_dir / name)}
        report.append(info)
        if not as_json:
            val = info["validation_top1"]
            console.print(f"{name}: trained in {info['seconds']} s"
                          + (f", validation top-1 ARI {val:.3f}" if val is not None else "")
                          + f" -> {info['path']}", highlight=False)
    if as_json:
        print(json.dumps(report))
