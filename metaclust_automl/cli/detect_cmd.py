"""``metaclust detect``: score every row of a table for anomaly and write ``score,is_anomaly``."""
from __future__ import annotations

import json
import time
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table as RichTable

from .app import (CategoricalOpt, NumericOpt, ColumnsOpt, DropOpt, ImputeOpt, JsonOpt, LabelColumnOpt, OutAliasOpt, ProgressOpt, SeedOpt,
                  app, console, err_console, load_for_cli, pick_output, status)

#: a base detector "backs" a row in the printed table when the row is in its top 5%
BACKING_RANK = 0.95


def _show_score(score: float) -> str:
    """P(anomalous) for a person: scores this close to 1 still differ, so show how close."""
    return f"1 - {1.0 - score:.1e}" if score > 0.9999 else f"{score:.4f}"


def _top_rows(scores: np.ndarray, flags: np.ndarray, top: int) -> list[dict]:
    order = np.argsort(-scores, kind="stable")[:top]
    return [{"row": int(i), "score": float(scores[i]), "is_anomaly": int(flags[i])} for i in order]


@app.command("detect")
def detect(
    data: Annotated[str, typer.Argument(help="Table to score (CSV, TSV, parquet, .npy, .npz, text).")],
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", metavar="FILE", help="Write 'score,is_anomaly' per input row here (CSV); '-' for "
        "stdout.")] = None,
    out_alias: OutAliasOpt = None,
    contamination: Annotated[str, typer.Option(
        "--contamination", metavar="auto|SHARE", help="'auto' (the share estimated from the policy's scores by the rule in its policy file; the shipped one: the rows whose logit passes a threshold fitted on the corpus) or the share of rows to flag, in (0, 0.5].")] = "auto",
    top: Annotated[int, typer.Option("--top", metavar="N", help="How many of the most anomalous rows to print.")] = 10,
    detector: Annotated[str, typer.Option(
        "--detector", metavar="NAME", help="Detector to use (see metaclust plugins); default: the meta-learned policy.")] = "meta_rl",
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
    """Score each row for anomaly (P(anomalous) from the meta-learned policy) and flag the anomalies.

    Rows are numbered from 0, as in the file (the first data row is 0; a header is not a row).

    The output file has one line per input row, in input order.
    """
    from ..default_plugins.detectors import META_DETECTOR
    from ..anomaly.estimator import check_contamination
    from ..atomic import check_distinct, check_output_path
    from ..errors import ConfigError
    from ..loading import write_labels_csv
    from ..plugins import get_registry

    # Every check that needs no data comes first: a bad option never costs a long read.
    output = pick_output(output, out_alias)
    share = check_contamination(contamination)
    if top < 0:
        raise ConfigError(f"--top must be 0 or more, got {top}")
    if output and output != "-":
        check_output_path(output)
    check_distinct({"--output": output}, {"DATA": data})
    factory = get_registry().detector(detector)
    params: dict = {"random_state": seed}
    if share != "auto":
        params["contamination"] = share
    elif detector != META_DETECTOR:
        raise ConfigError(f"--contamination auto needs the meta-learned detector; give {detector!r} a fraction, "
                          "e.g. --contamination 0.05")
    estimator = factory(**params)
    table = load_for_cli(data, columns, drop, label_column, impute, categorical, numeric)
    started = time.perf_counter()
    with status(f"scoring {table.X.shape[0]} x {table.X.shape[1]} with {detector}", progress):
        estimator.fit(table.X)
    seconds = time.perf_counter() - started
    scores = np.asarray(estimator.decision_scores_, dtype=np.float64)
    flags = np.asarray(estimator.labels_, dtype=np.int64)
    if output == "-":
        import sys

        sys.stdout.write("score,is_anomaly\n" + "".join(f"{s!r},{f}\n" for s, f in zip(scores.tolist(), flags.tolist())))
        return
    if output:
        write_labels_csv(output, {"score": scores, "is_anomaly": flags})
    rows = _top_rows(scores, flags, top)
    base = getattr(estimator, "observation_", None)
    if base is not None:
        ranks, _ = base.normaliser.transform(base.scores)
        names = list(base.bank.names)
        for r in rows:
            r["backed_by"] = [names[j] for j in np.flatnonzero(ranks[r["row"]] >= BACKING_RANK)]
    payload = {"detector": detector, "n_rows": int(scores.size), "n_columns": int(table.X.shape[1]),
               "n_anomalies": int(flags.sum()), "contamination": share,
               "estimated_contamination": getattr(estimator, "contamination_", None),
               "threshold": float(estimator.threshold_), "seconds": round(seconds, 3),
               "output": output, "top": rows}
    if as_json:
        print(json.dumps(payload))
        return
    how = (f"expected share {payload['estimated_contamination']:.1%}" if share == "auto"
           else f"--contamination {share:g}")
    title = (f"{payload['n_anomalies']} of {payload['n_rows']} rows flagged "
             f"({payload['n_anomalies'] / max(payload['n_rows'], 1):.1%}, {how}), {seconds:.2f} s")
    t = RichTable(title=title)
    t.add_column("row", justify="right")
    t.add_column("score", justify="right")
    t.add_column("is_anomaly", justify="right")
    if base is not None:
        t.add_column("in the top 5% of")
    for r in rows:
        cells = [str(r["row"]), _show_score(r["score"]), str(r["is_anomaly"])]
        if base is not None:
            backed = r["backed_by"]
            cells.append(f"all {len(backed)} detectors" if len(backed) == len(base.bank.names)
                         else (", ".join(backed) or "-"))
        t.add_row(*cells)
    console.print(t)
    if output:
        err_console.print(f"wrote {output}", highlight=False, soft_wrap=True)
