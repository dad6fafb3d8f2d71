"""``metaclust recommend`` (ranked configurations for a table) and ``metaclust train-selectors``
(fit the selectors on a knowledge base and save their weights as plain files)."""
from __future__ import annotations

import json
import time
from typing import Annotated, Any, Optional

import typer
from rich.table import Table as RichTable

from ..running.backend_runner import DEFAULT_TIME_LIMIT
from ..selectors.judge import DEFAULT_BUDGET
from .app import (CategoricalOpt, NumericOpt, ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, OutAliasOpt, ProgressOpt, SeedOpt,
                  TimeLimitOpt, app, console, err_console, load_for_cli, pick_output, split_list, status)

TopOpt = Annotated[int, typer.Option("--top", min=1, metavar="N", help="How many ranked configurations to show.")]
SelectorOpt = Annotated[Optional[str], typer.Option(
    "--selector", metavar="NAME", help="Meta-learner to rank with (knn, maml, rl2 or a plugin's; default: "
    "knn, the best one leave-one-battery-out on the dev datasets).")]
KbOpt = Annotated[Optional[str], typer.Option(
    "--kb", metavar="DIR", help="Knowledge base directory (default: the one shipped with metaclust).")]
SelectorsDirOpt = Annotated[Optional[str], typer.Option(
    "--selectors-dir", metavar="DIR", help="Fitted selector weights (as train-selectors -o writes them; "
    "default: KB/selectors, then the shipped ones).")]
BudgetOpt = Annotated[int, typer.Option(
    "--budget", min=0, metavar="N", help="Configurations run on a sample of the table before ranking: with 2 "
    "or more, the selector's first N and a learned judge orders them (0: meta-features only).")]
LabelsOpt = Annotated[Optional[str], typer.Option(
    "--labels", metavar="FILE", help="A few known labels, one per row (empty or -1 = unknown), for "
    "few-shot adaptation.")]


def few_shot_labels(table: Any, labels_file: Optional[str]) -> Any:
    """Known labels from --labels FILE, or from a partially filled --label-column (its missing
    values = unknown). A completely filled label column holds reference labels: it is set
    aside and not used to choose."""
    from ..errors import DataError
    from ..loading import load_labels
    from ..recommend import labels_to_codes

    if labels_file is not None:
        if table.labels is not None and labels_to_codes(table.labels, table.X.shape[0]).min() < 0:
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


def build_recommender(selector: Optional[str], kb: Any, time_limit: float | None = DEFAULT_TIME_LIMIT,
                      weights: Optional[str] = None, progress: bool = True) -> Any:
    from ..recommend import DEFAULT_SELECTOR, Recommender

    with status(f"loading the {selector or DEFAULT_SELECTOR} selector", progress):
        return Recommender.default(selector=selector, kb=kb, weights=weights, time_limit=time_limit)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def shown_params(resolved: dict[str, Any], sep: str = ", ") -> str:
    """Parameters as ``name=value`` (floats to 4 significant digits)."""
    return sep.join(f"{k}={_fmt(v)}" for k, v in resolved.items())


def probe_lines(rec: Any) -> list[str]:
    """One line per configuration the selector ran on the table's sample (--budget)."""
    s = rec.session
    if s is None or not s.indices:
        return []
    lines = [f"ran {len(s.indices)} configuration{'s' if len(s.indices) != 1 else ''} on "
             f"{s.sample.size} rows before choosing ({s.seconds:.1f} s):"]
    for c, idx in s.indices.items():
        cfg = rec.kb.configs[c]
        lines.append(f"  {cfg.algorithm} {shown_params(cfg.params)}: {int(idx['n_clusters'])} clusters, "
                     f"noise {idx['noise_share']:.0%}, silhouette {idx['silhouette']:.2f}")
    return lines


def print_probes(rec: Any) -> None:
    for line in probe_lines(rec):
        err_console.print(line, highlight=False)


def _shared_reason(reasons: list[str]) -> bool:
    """True when every reason says the same thing up to its numbers (one sentence suffices)."""
    import re

    return len({re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", r) for r in reasons}) == 1


def recommendation_table(title: str, recs: list[Any]) -> Any:
    """Rank, algorithm, every parameter whole (one per line) and the predicted ARI; the
    reasons are printed under the table (see ``print_reasons``), so it fits 80 columns."""
    t = RichTable(title=title)
    t.add_column("rank", justify="right")
    t.add_column("algorithm", no_wrap=True)
    t.add_column("parameters for this table", overflow="fold")
    t.add_column("predicted ARI", justify="right")
    for r in recs:
        t.add_row(str(r.rank), r.algorithm, shown_params(r.resolved, "\n"), f"{r.predicted_score:.2f}",
                  end_section=True)
    return t


def print_reasons(recs: list[Any]) -> None:
    reasons = [r.reason for r in recs if r.reason]
    if not reasons:
        return
    if len(reasons) == len(recs) and _shared_reason(reasons):
        console.print(f"why: {recs[0].reason} (rank 1; the other ranks alike, with their own numbers)",
                      highlight=False)
        return
    for r in recs:
        if r.reason:
            console.print(f"why {r.rank}: {r.reason}", highlight=False)


@app.command("recommend")
def recommend(
    data: Annotated[str, typer.Argument(help="Table to analyse (CSV, TSV, parquet, .npy, .npz, text).")],
    top: TopOpt = 5,
    selector: SelectorOpt = None,
    kb: KbOpt = None,
    selectors_dir: SelectorsDirOpt = None,
    budget: BudgetOpt = DEFAULT_BUDGET,
    labels: LabelsOpt = None,
    seed: SeedOpt = 0,
    columns: ColumnsOpt = None,
    drop: DropOpt = None,
    label_column: LabelColumnOpt = None,
    impute: ImputeOpt = None,
    categorical: CategoricalOpt = None,
    numeric: NumericOpt = None,
    as_json: JsonOpt = False,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    progress: ProgressOpt = True,
    force: Annotated[bool, typer.Option("--force", help="Skip the structure test (rank as if the table had clusters).")] = False,
) -> None:
    """Rank clustering configurations for a table: algorithm, parameters, predicted quality, why."""
    from .app import option_time_limit

    start = time.perf_counter()
    time_limit = option_time_limit(time_limit)
    base = check_choice(selector, kb)
    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    known = few_shot_labels(table, labels)
    rec = build_recommender(selector, base, time_limit, selectors_dir, progress)
    verdict = None
    if not force and known is None:
        from ..trust.structure import structure_test

        with status("testing the table for cluster structure", progress):
            verdict = structure_test(table.X, seed=seed)
        if not verdict.has_structure:  # said above the table (stderr with --json: stdout stays a list)
            (err_console if as_json else console).print(
                verdict.message.replace("every row is labelled 0; use --force to cluster anyway",
                                        "metaclust cluster will label every row 0 (--force clusters anyway); "
                                        "the ranking below is what --force would choose from"),
                highlight=False, soft_wrap=True)
    with status(f"ranking {len(rec.kb.configs)} configurations for {table.X.shape[0]} x {table.X.shape[1]}",
                progress):
        recs = rec.recommend(table.X, top=top, budget=budget, labels=known, seed=seed)
    elapsed = time.perf_counter() - start
    if as_json:
        print(json.dumps([r.to_dict() for r in recs], indent=1))
        return
    console.print(recommendation_table(f"Recommended for {data} ({table.X.shape[0]} x {table.X.shape[1]}) "
                                       f"by {rec.selector.name}, {elapsed:.1f} s", recs))
    print_reasons(recs)
    print_probes(rec)


@app.command("train-selectors")
def train_selectors(
    kb: Annotated[str, typer.Option("--kb", metavar="DIR", help="Knowledge base directory to learn from.")],
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", metavar="DIR", help="Directory for the weights, one subdirectory per selector "
        "(default: KB/selectors, which recommend --kb KB reads).")] = None,
    out_alias: OutAliasOpt = None,
    selectors: Annotated[Optional[list[str]], typer.Option(
        "--selectors", metavar="NAMES", help="Selectors to train; repeatable or comma-separated "
        "(default: knn, maml and rl2).")] = None,
    selector_alias: Annotated[Optional[list[str]], typer.Option("--selector", hidden=True)] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Fit selectors on a knowledge base and save them as plain files (JSON + safetensors)."""
    from ..atomic import check_output_dir
    from ..knowledge_base import KnowledgeBase
    from ..plugins import get_registry
    from ..recommend.weights import weights_dir
    from ..training.selector_weights import DEFAULT_SELECTORS, check_selector_dirs, train_and_save

    names = split_list((selectors or []) + (selector_alias or [])) or list(DEFAULT_SELECTORS)
    reg = get_registry()
    for n in names:
        reg.selector(n)  # unknown names fail before any work
    out = pick_output(output, out_alias)
    out_dir = check_output_dir(weights_dir(kb) if out is None else out)  # its parent must exist and be writable
    check_selector_dirs(out_dir, names)
    base = KnowledgeBase.load(kb)
    report = train_and_save(base, out_dir, names, seed=seed, progress=progress and not as_json)
    if as_json:
        print(json.dumps(report))
        return
    print_selector_report(report)
    if out is not None and out_dir.resolve() != weights_dir(kb).resolve():
        err_console.print(f"note: recommend --kb {kb} reads {weights_dir(kb)}; pass --selectors-dir {out_dir} "
                          "to use these", highlight=False, soft_wrap=True)


def print_selector_report(report: list[dict[str, Any]]) -> None:
    """One line per trained selector: time, validation top-1 ARI, where it was saved."""
    for info in report:
        val = info["validation_top1"]
        where = f" -> {info['path']}" if info["path"] else " (this selector cannot be saved; it is fitted when used)"
        console.print(f"{info['selector']}: trained in {info['seconds']} s"
                      + (f", validation top-1 ARI {val:.3f}" if val is not None else "") + where,
                      highlight=False, soft_wrap=True)
