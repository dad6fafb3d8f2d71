"""The blind baselines on the dev corpus (../shared/datasets/clustering), measured.

Reproduces the baseline rows of the recommend issue's table (mean ARI, label 0 not
scored, k not known) with the conventions of metaclust_automl.evaluation.baselines,
and says how close each comes to the reference value. The reference numbers are on the
43 datasets of at most 50,000 rows; the three big ones (birch1, birch2, worms_2, about
100,000 rows each) are reported separately, run with the sampling `metaclust evaluate`
uses for them.

    python bench/baselines.py [--trials 50] [--only NAME,...] [--skip-big] [--seed 0]
    python bench/baselines.py --from-results DIR/results.csv   # no re-run: summarise what
                                                               # `metaclust evaluate --baselines` measured

Writes bench/results/baselines_dev.json and bench/results/baselines_dev.md.
Datasets: REPO/../shared/datasets (or $METACLUST_DATASETS); skips cleanly without them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from metaclust_automl.evaluation.report import write_text  # noqa: E402
from metaclust_automl.evaluation.baselines import BASELINES  # noqa: E402
from metaclust_automl.evaluation.report import per_task_markdown, summarise  # noqa: E402
from metaclust_automl.evaluation.runner import DEFAULT_MAX_ROWS, Plan, evaluate_corpus  # noqa: E402

#: mean ARI on the 43 datasets of at most 50,000 rows, from the recommend issue (issue 5)
REFERENCE = {"dbscan_default": 0.296, "optuna_silhouette": 0.506, "kmeans_silhouette": 0.576,
             "hdbscan_default": 0.588}
REFERENCE_SECONDS = {"dbscan_default": 0.01, "optuna_silhouette": 1.8, "kmeans_silhouette": 0.55,
                     "hdbscan_default": 0.02}
TOLERANCE = 0.02
BIG = 50_000


def _signed(x: float) -> str:
    text = f"{x:+.3f}"
    return "±0.000" if float(text) == 0 else text


def datasets_dir() -> Path:
    return Path(os.environ.get("METACLUST_DATASETS", REPO / ".." / "shared" / "datasets")) / "clustering"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--only", default="", help="comma-separated baselines (default: all)")
    ap.add_argument("--skip-big", action="store_true", help="leave out the datasets above 50,000 rows")
    ap.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    ap.add_argument("--from-results", default=None,
                    help="results.csv of `metaclust evaluate ... --baselines`: summarise it instead of running")
    args = ap.parse_args(argv)

    root = datasets_dir()
    if not root.is_dir():
        print(f"skipped: no benchmark datasets at {root} (set METACLUST_DATASETS)")
        return 0
    from metaclust_automl.corpus import load_corpus

    names = [n for n in args.only.split(",") if n] or list(BASELINES)
    tasks = load_corpus([root])
    if args.skip_big:
        tasks = [t for t in tasks if t.X.shape[0] <= BIG]
    small = {t.id for t in tasks if t.X.shape[0] <= BIG}
    big = sorted({t.id for t in tasks} - small)
    print(f"{len(tasks)} datasets ({len(small)} of at most {BIG} rows); baselines: {', '.join(names)}", flush=True)
    start = time.perf_counter()
    if args.from_results:
        from metaclust_automl.evaluation.report import read_results_csv

        keep = {t.id for t in tasks}
        results = [r for r in read_results_csv(args.from_results) if r.method in names and r.task in keep]
        missing = sorted(keep - {r.task for r in results})
        if missing:
            print(f"{args.from_results} lacks {len(missing)} datasets (e.g. {missing[0]}); run it again")
            return 1
        wall = float(sum(r.seconds for r in results if np.isfinite(r.seconds)))
        source = f"summarised from {args.from_results} (written by `metaclust evaluate ... --baselines`)"
    else:
        results = evaluate_corpus(tasks, Plan(baselines=names, trials=args.trials, seed=args.seed,
                                              max_rows=args.max_rows), progress=True)
        wall = time.perf_counter() - start
        source = f"`python bench/baselines.py --trials {args.trials}`"

    by43 = {s["method"]: s for s in summarise(results, small)}
    byall = {s["method"]: s for s in summarise(results)}
    rows = []
    for name in names:
        s43, sall = by43[name], byall[name]
        ref = REFERENCE.get(name)
        secs = [r.seconds for r in results if r.method == name and r.task in small and r.ok]
        rows.append({
            "baseline": name, "tasks": s43["tasks"], "mean_ari": round(s43["mean_ari"], 4),
            "median_ari": round(s43["median_ari"], 4), "mean_nmi": round(s43["mean_nmi"], 4),
            "mean_acc": round(s43["mean_acc"], 4), "reference_mean_ari": ref,
            "delta": None if ref is None else round(s43["mean_ari"] - ref, 4),
            "within_tolerance": None if ref is None else bool(abs(s43["mean_ari"] - ref) <= TOLERANCE),
            "mean_seconds": round(float(np.mean(secs)), 3) if secs else None,
            "reference_seconds": REFERENCE_SECONDS.get(name), "failed": s43["failed"],
            "all_tasks": sall["tasks"], "all_mean_ari": round(sall["mean_ari"], 4),
            "all_median_ari": round(sall["median_ari"], 4),
        })
    per_task = {f"{r.task}|{r.method}": {"ari": r.ari, "nmi": r.nmi, "acc": r.acc, "seconds": round(r.seconds, 4),
                                         "n_clusters": r.n_clusters, "sampled": r.sampled, "error": r.error}
                for r in results}
    payload = {
        "corpus": str(root), "datasets": len(tasks), "reference_subset": f"{len(small)} datasets of at most {BIG} rows",
        "big_datasets": big, "trials": args.trials, "seed": args.seed, "max_rows": args.max_rows,
        "source": source, "tolerance": TOLERANCE, "wall_seconds": round(wall, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_1min_at_end": None if args.from_results else round(os.getloadavg()[0], 2)},
        "conventions": ["columns standardised (z-scores) before every baseline",
                        "reference label 0 (noise) not scored; predicted noise (-1) counts as one cluster",
                        "silhouette on a random sample of 2,000 rows with predicted noise as one more cluster; "
                        "fewer than two labels (or one row per label) scores -1 (leaving noise out instead "
                        "lets the search pick DBSCAN runs that call most rows noise)",
                        "KMeans: k-means++, n_init=3, k in 2..20; Optuna: TPE (seeded), the registered search "
                        "spaces of kmeans/gmm/agglomerative/dbscan/hdbscan incl. preprocess, parameter names "
                        "prefixed by algorithm",
                        f"above {args.max_rows} rows DBSCAN defaults, KMeans-silhouette and Optuna-silhouette "
                        "run on a random sample, the other rows take their nearest sampled row's label; "
                        "HDBSCAN defaults sees every row"],
        "baselines": rows, "per_task": per_task,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "baselines_dev.json", json.dumps(payload, indent=1) + "\n")

    head = ("| baseline | mean ARI (43) | reference | Δ | within 0.02 | median ARI | mean NMI | mean ACC "
            "| s / dataset (43) | reference s | mean ARI (all) |")
    lines = ["# Blind baselines on the dev corpus\n",
             f"{source}, on {root} ({len(tasks)} datasets). "
             f"Mean over the {len(small)} datasets of at most {BIG:,} rows (the subset of the reference "
             f"table in the recommend issue); the last column adds the {len(big)} big ones "
             f"({', '.join(big) or 'none'}), run on samples of {args.max_rows:,} rows where the baseline is "
             f"expensive. Time spent in the baselines {wall:.0f} s on {os.cpu_count()} shared CPUs"
             + ("" if args.from_results else f" (1-min load average at the end: {os.getloadavg()[0]:.1f})")
             + "; times per dataset are wall-clock, single-threaded, on a machine shared with other jobs.\n",
             head, "|---|" + "---:|" * 10]
    for r in rows:
        lines.append(f"| {r['baseline']} | {r['mean_ari']:.3f} | {r['reference_mean_ari']} | {_signed(r['delta'])} | "
                     f"{'yes' if r['within_tolerance'] else 'NO'} | {r['median_ari']:.3f} | {r['mean_nmi']:.3f} | "
                     f"{r['mean_acc']:.3f} | {r['mean_seconds']} | {r['reference_seconds']} | "
                     f"{r['all_mean_ari']:.3f} ({r['all_tasks']}) |")
    lines += ["\n## Conventions that reproduce the reference\n"] + [f"- {c}" for c in payload["conventions"]]
    lines += ["\n## ARI per dataset\n", "(* = run on a sample of the rows)\n", per_task_markdown(results)]
    write_text(out / "baselines_dev.md", "\n".join(lines) + "\n")
    print("\n".join(lines[2:4 + len(rows)]))
    print(f"wrote {out / 'baselines_dev.json'} and {out / 'baselines_dev.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
