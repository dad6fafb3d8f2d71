"""The outputs of an evaluation: ``results.csv``, ``report.md`` and two PNG plots.

The summary answers the questions a user asks: how good is each method on average
(mean and median ARI, NMI, ACC), how often does it beat each blind baseline, how far
is it from the best configuration the knowledge base knows (regret against the
ceiling), and what does it cost per table. A method that failed on a task scores 0
there (a user got no clustering), and the failure is counted and listed.

Every file is written atomically; matplotlib is imported only when plotting, through
its object-oriented API (no global backend switch).
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_text
from .runner import FIELDS, KIND_BASELINE, KIND_CEILING, KIND_SELECTOR, Result

#: two ARIs closer than this are a tie
TIE = 0.01
RESULTS_CSV = "results.csv"
REPORT_MD = "report.md"
SCATTER_PNG = "ari_scatter.png"
DISTRIBUTION_PNG = "ari_distribution.png"




# -- tables ------------------------------------------------------------------------------

def _ari_by_task(results: Sequence[Result], method: str) -> dict[str, float]:
    """Per-task ARI of one method; a failure counts as 0."""
    return {r.task: (r.ari if r.ok else 0.0) for r in results if r.method == method}


def methods_in_order(results: Sequence[Result]) -> list[tuple[str, str]]:
    """(method, kind) in the order: selectors, baselines, ceiling; first appearance within."""
    seen: dict[str, str] = {}
    for r in results:
        seen.setdefault(r.method, r.kind)
    rank = {KIND_SELECTOR: 0, KIND_BASELINE: 1, KIND_CEILING: 2}
    return sorted(seen.items(), key=lambda mk: rank.get(mk[1], 3))


def win_tie_loss(a: dict[str, float], b: dict[str, float], tie: float = TIE) -> tuple[int, int, int]:
    """Tasks where ``a`` beats, ties or loses to ``b`` (on the tasks both were scored on)."""
    common = sorted(set(a) & set(b))
    diff = np.array([a[t] - b[t] for t in common])
    return int((diff > tie).sum()), int((np.abs(diff) <= tie).sum()), int((diff < -tie).sum())


def summarise(results: Sequence[Result], tasks: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per method: means, medians, wins/ties/losses against each baseline, regret."""
    rows = [r for r in results if tasks is None or r.task in tasks]
    methods = methods_in_order(rows)
    baselines = [m for m, k in methods if k == KIND_BASELINE]
    ceil = _ari_by_task(rows, "ceiling")
    out = []
    for method, kind in methods:
        mine = [r for r in rows if r.method == method]
        ari = np.array([r.ari if r.ok else 0.0 for r in mine])
        nmi = np.array([r.nmi if r.ok else 0.0 for r in mine])
        acc = np.array([r.acc if r.ok else 0.0 for r in mine])
        secs = np.array([r.seconds for r in mine if r.ok and np.isfinite(r.seconds)])
        by_task = _ari_by_task(rows, method)
        row: dict[str, Any] = {
            "method": method, "kind": kind, "tasks": len(mine),
            "failed": sum(not r.ok for r in mine), "sampled": sum(r.sampled for r in mine),
            "mean_ari": float(ari.mean()) if ari.size else float("nan"),
            "median_ari": float(np.median(ari)) if ari.size else float("nan"),
            "mean_nmi": float(nmi.mean()) if nmi.size else float("nan"),
            "mean_acc": float(acc.mean()) if acc.size else float("nan"),
            "mean_seconds": float(secs.mean()) if secs.size else float("nan"),
            "wtl": {b: win_tie_loss(by_task, _ari_by_task(rows, b)) for b in baselines if b != method},
        }
        common = sorted(set(by_task) & set(ceil))
        row["regret_tasks"] = len(common)
        row["mean_regret"] = float(np.mean([ceil[t] - by_task[t] for t in common])) if common else float("nan")
        out.append(row)
    return out


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"


def summary_markdown(summary: list[dict[str, Any]]) -> str:
    """The summary as a markdown table."""
    baselines = [s["method"] for s in summary if s["kind"] == KIND_BASELINE]
    head = ["method", "kind", "tasks", "mean ARI", "median ARI", "mean NMI", "mean ACC", "s / task",
            *[f"W/T/L vs {b}" for b in baselines], "regret vs ceiling"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for s in summary:
        wtl = ["/".join(map(str, s["wtl"][b])) if b in s["wtl"] else "" for b in baselines]
        regret = (f"{_fmt(s['mean_regret'])} ({s['regret_tasks']})" if s["regret_tasks"] and s["kind"] != KIND_CEILING
                  else "")
        tasks = f"{s['tasks']}" + (f" ({s['failed']} failed)" if s["failed"] else "")
        lines.append("| " + " | ".join([s["method"], s["kind"], tasks, _fmt(s["mean_ari"]), _fmt(s["median_ari"]),
                                         _fmt(s["mean_nmi"]), _fmt(s["mean_acc"]), _fmt(s["mean_seconds"], 2),
                                         *wtl, regret]) + " |")
    return "\n".join(lines) + "\n"


def per_task_markdown(results: Sequence[Result]) -> str:
    """ARI of every method on every task (a failure shows as 'failed')."""
    methods = [m for m, _ in methods_in_order(results)]
    tasks = list(dict.fromkeys(r.task for r in results))
    cell = {(r.task, r.method): r for r in results}
    lines = ["| task | n | " + " | ".join(methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for t in tasks:
        first = next(r for r in results if r.task == t)
        vals = []
        for m in methods:
            r = cell.get((t, m))
            vals.append("" if r is None else ("failed" if not r.ok else _fmt(r.ari) + ("*" if r.sampled else "")))
        lines.append(f"| {t} | {first.n} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


# -- files -------------------------------------------------------------------------------

def results_csv(results: Sequence[Result]) -> str:
    import pandas as pd

    frame = pd.DataFrame([asdict(r) for r in results], columns=FIELDS)
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n", float_format="%.6g")
    return buf.getvalue()


def read_results_csv(path: str | os.PathLike) -> list[Result]:
    """Read back a results.csv (to re-render a report without re-running)."""
    import pandas as pd

    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    rows = []
    for rec in frame.to_dict(orient="records"):
        rec = {k: rec.get(k) for k in FIELDS}
        for key in ("algorithm", "params", "error", "note", "group"):
            rec[key] = "" if rec[key] is None or (isinstance(rec[key], float) and np.isnan(rec[key])) else str(rec[key])
        rec["sampled"] = bool(rec["sampled"])
        rows.append(Result(**rec))
    return rows


def best_pair(summary: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(best baseline, best selector) by mean ARI; without selectors, the best two baselines."""
    base = sorted((s for s in summary if s["kind"] == KIND_BASELINE), key=lambda s: -s["mean_ari"])
    sel = sorted((s for s in summary if s["kind"] == KIND_SELECTOR), key=lambda s: -s["mean_ari"])
    if base and sel:
        return base[0]["method"], sel[0]["method"]
    if len(base) >= 2:
        return base[1]["method"], base[0]["method"]
    return None


def _save_figure(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_scatter(results: Sequence[Result], x_method: str, y_method: str, path: Path) -> Path:
    """Per-task ARI of ``y_method`` against ``x_method``; points above the diagonal are wins."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xa, ya = _ari_by_task(results, x_method), _ari_by_task(results, y_method)
    common = [t for t in xa if t in ya]
    x = np.array([xa[t] for t in common])
    y = np.array([ya[t] for t in common])
    fig = Figure(figsize=(5.2, 5.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    lo = min(-0.05, float(np.min(x, initial=0)), float(np.min(y, initial=0)) - 0.05)
    ax.plot([lo, 1.02], [lo, 1.02], color="0.6", lw=1, ls="--", zorder=0)
    colors = np.where(y > x + TIE, "tab:green", np.where(y < x - TIE, "tab:red", "tab:gray"))
    ax.scatter(x, y, c=colors, s=22, alpha=0.85, edgecolors="none")
    gaps = np.abs(y - x)
    for i in np.argsort(-gaps)[:6]:  # name the tasks where the two differ most
        if gaps[i] > 0.2:
            ax.annotate(common[i].split("/")[-1], (x[i], y[i]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    w = int((y > x + TIE).sum())
    l_ = int((y < x - TIE).sum())
    ax.set_xlim(lo, 1.02)
    ax.set_ylim(lo, 1.02)
    ax.set_xlabel(f"ARI of {x_method} (mean {x.mean():.3f})" if x.size else x_method)
    ax.set_ylabel(f"ARI of {y_method} (mean {y.mean():.3f})" if y.size else y_method)
    ax.set_title(f"per task: {y_method} vs {x_method}\n{w} above, {len(common) - w - l_} tied, {l_} below",
                 fontsize=10)
    ax.grid(alpha=0.3)
    _save_figure(fig, path)
    return path


def plot_distribution(results: Sequence[Result], path: Path) -> Path:
    """Box plot of per-task ARI for each method, with every task as a jittered point."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = [m for m, _ in methods_in_order(results)]
    data = [np.array(list(_ari_by_task(results, m).values())) for m in methods]
    fig = Figure(figsize=(max(5.0, 1.1 * len(methods) + 1.5), 4.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.boxplot(data, showfliers=False, widths=0.55, medianprops={"color": "black"})
    ax.set_xticks(range(1, len(methods) + 1), labels=methods, rotation=25, ha="right")
    rng = np.random.default_rng(0)
    for i, vals in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.18, 0.18, vals.size), vals, s=10, alpha=0.6, color="tab:blue",
                   edgecolors="none")
        if vals.size:
            ax.scatter([i], [vals.mean()], marker="D", s=28, color="tab:orange", zorder=3)
    ax.set_ylabel("ARI per task (diamond: mean)")
    ax.set_title("distribution of per-task ARI by method", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    _save_figure(fig, path)
    return path


def render_markdown(results: Sequence[Result], *, command: str, setup: dict[str, Any],
                    notes: Sequence[str] = (), plots: dict[str, str] | None = None) -> str:
    """The whole report.md."""
    summary = summarise(results)
    parts = ["# metaclust evaluation\n", "Produced by:\n", f"```\n{command}\n```\n", "## Setup\n"]
    parts += [f"- {k}: {v}" for k, v in setup.items()]
    parts.append("\nScores: ARI, NMI and ACC (Hungarian) against the reference labels; rows without a "
                 "reference label (noise in the benchmark suite) are not scored, predicted noise counts as "
                 "one cluster. A method that failed on a task scores 0 there. "
                 f"W/T/L: tasks won / tied (|ΔARI| ≤ {TIE}) / lost against that baseline. Regret: mean of "
                 "(ceiling ARI − method ARI) over the tasks whose ceiling the knowledge base knows "
                 "(their number in brackets). s / task: wall-clock seconds a user would wait per table "
                 "(meta-features, selection and the final run; fitting a selector is not included).\n")
    parts += ["## Summary\n", summary_markdown(summary)]
    sampled = sorted({r.task for r in results if r.sampled})
    if sampled:
        all_tasks = {r.task for r in results}
        rest = all_tasks - set(sampled)
        parts += [f"\n### Without the {len(sampled)} tasks where a baseline ran on a sample\n",
                  f"({len(rest)} tasks; sampled: {', '.join(sampled)})\n\n", summary_markdown(summarise(results, rest))]
    if plots:
        parts.append("\n## Plots\n")
        for caption, file in plots.items():
            parts.append(f"![{caption}]({file})\n")
    failures = [r for r in results if not r.ok]
    if notes or sampled or failures:
        parts.append("\n## Notes\n")
        parts += [f"- {n}" for n in notes]
        for r in results:
            if r.sampled:
                parts.append(f"- {r.task}, {r.method}: {r.note}")
        for r in failures:
            parts.append(f"- {r.task}, {r.method} failed: {r.error or 'no score'}")
        parts.append("")
    parts += ["\n## ARI per task\n", "(* = the baseline ran on a sample of the rows)\n\n", per_task_markdown(results)]
    return "\n".join(parts)


def write_outputs(results: Sequence[Result], out_dir: str | os.PathLike, *, command: str,
                  setup: dict[str, Any], notes: Sequence[str] = (), plots: bool = True) -> dict[str, Path]:
    """Write results.csv, the plots and report.md into ``out_dir`` (each atomically)."""
    out = Path(out_dir)
    written = {"results": write_text(out / RESULTS_CSV, results_csv(results))}
    shown: dict[str, str] = {}
    if plots and results:
        pair = best_pair(summarise(results))
        if pair is not None:
            written["scatter"] = plot_scatter(results, pair[0], pair[1], out / SCATTER_PNG)
            shown[f"per-task ARI: {pair[1]} vs {pair[0]}"] = SCATTER_PNG
        written["distribution"] = plot_distribution(results, out / DISTRIBUTION_PNG)
        shown["per-task ARI by method"] = DISTRIBUTION_PNG
    written["report"] = write_text(out / REPORT_MD, render_markdown(results, command=command, setup=setup,
                                                                    notes=notes, plots=shown))
    return written
