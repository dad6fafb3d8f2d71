"""``metaclust explain`` (what sets each cluster apart) and ``metaclust calibrate-confidence``
(rebuild the confidence calibration from a knowledge base)."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from .app import (ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, OutAliasOpt, SeedOpt, app, console,
                  load_for_cli, pick_output)


@app.command("explain")
def explain_cmd(
    data: Annotated[str, typer.Argument(help="The table that was clustered (CSV, TSV, parquet, .npy, .npz, text).")],
    labels: Annotated[str, typer.Argument(help="Its labels, one per row (e.g. the output of metaclust cluster).")],
    plot: Annotated[Optional[str], typer.Option("--plot", help="Also write a heat map of effect sizes to this PNG file.")] = None,
    seed: SeedOpt = 0,
    columns: ColumnsOpt = None,
    drop: DropOpt = None,
    label_column: LabelColumnOpt = None,
    impute: ImputeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Say what sets each cluster apart: features by effect size, a short rule, importance."""
    from ..atomic import check_output_path
    from ..errors import DataError
    from ..loading import load_labels
    from ..trust.explain import explain, write_plot

    if plot:
        check_output_path(plot)
    table = load_for_cli(data, columns, drop, label_column, impute)
    raw = load_labels(labels)
    try:
        codes = [int(float(v)) for v in raw]
    except (TypeError, ValueError):
        raise DataError(f"{labels}: labels must be integers (noise = -1)") from None
    e = explain(table.X, codes, table.columns, seed=seed)
    if as_json:
        print(json.dumps(e.to_dict()))
    else:
        for line in e.lines():
            console.print(line, highlight=False, soft_wrap=True)
    if plot:
        write_plot(plot, e)


@app.command("calibrate-confidence")
def calibrate_confidence(
    kb: Annotated[Optional[str], typer.Option("--kb", help="Knowledge base to calibrate on (default: the shipped one).")] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="FILE", help="Calibration file to write "
                      "(default: the one shipped in the package).")] = None,
    out_alias: OutAliasOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the confidence calibration (plain JSON) from a knowledge base's runs."""
    from ..knowledge_base import KnowledgeBase, load_default
    from ..training import confidence_calibration as calibrate
    from ..trust.confidence import calibration_path

    base = load_default() if kb is None else KnowledgeBase.load(kb)
    cal, report = calibrate.build(base)
    path = calibrate.save(cal, pick_output(output, out_alias) or calibration_path())
    if as_json:
        print(json.dumps({"path": str(path), **report}))
        return
    console.print(f"calibrated on {report['examples']} runs of {report['task_groups']} task groups: held-out "
                  f"Spearman {report['spearman_held_out']:.3f}, mean absolute error "
                  f"{report['mean_abs_error_held_out']:.3f} -> {path}", highlight=False)
