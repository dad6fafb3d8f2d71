"""Benchmark: how good is the top-1 recommendation on real labelled data, next to what a
user can do without labels today, and how long does it take?

On the development corpus (``REPO/../shared/datasets/clustering``, or $METACLUST_DATASETS;
label 0 = noise, not scored) it reports the mean and median ARI, NMI and ACC of

- each selector's top-1 configuration (zero-shot, and with a probing budget), fitted on
  the knowledge base (default: the shipped one; it must not contain these datasets);
- the blind baselines of issue 5, run in the same process: DBSCAN defaults, KMeans with k
  by best silhouette, HDBSCAN defaults, Optuna TPE (50 trials) maximising silhouette over
  kmeans/gmm/agglomerative/dbscan/hdbscan;
- the ceiling: the best configuration of the knowledge base's portfolio chosen with the labels;

with the time per dataset, and the wall time of ``metaclust cluster DATA -o labels.csv``
as a separate process (start-up included) with the default selector. ``--big`` also times
``metaclust recommend`` on a generated 1,000,000 x 20 CSV.

Nothing here is tuned on these datasets: they are only scored. Results go to
bench/results/recommend.{json,md}.

    python bench/recommend.py [--kb DIR] [--selectors knn,maml,rl2] [--budgets 0,5] [--big]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per library: the machine is shared; same for every method

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from metaclust_automl.metrics import external_scores  # noqa: E402

#: rows above which the searching baselines run on a random sample (the other rows then take
#: the nearest sampled row's label); stated in the report
BASELINE_SAMPLE = 20_000


def baselines() -> dict:
    """The blind baselines of issue 5, as ``metaclust evaluate`` runs them."""
    from metaclust_automl.evaluation import baselines as b

    def sampled(fn, **kw):  # noqa: ANN001, ANN202
        return lambda X, seed=0: b.on_sample(fn, X, BASELINE_SAMPLE, seed=seed, **kw)[0]

    return {"DBSCAN defaults": b.dbscan_default, "KMeans, k by silhouette": sampled(b.kmeans_silhouette),
            "HDBSCAN defaults": b.hdbscan_default,
            "Optuna TPE 50 trials on silhouette": sampled(b.optuna_silhouette, trials=50)}


# -- helpers -------------------------------------------------------------------------------

def dataset_root() -> Path | None:
    root = Path(os.environ.get("METACLUST_DATASETS", REPO.parent / "shared" / "datasets")) / "clustering"
    return root if root.is_dir() else None


def summarise(rows: list[dict], key: str) -> dict:
    vals = {m: np.array([r[key][m] for r in rows if r[key] is not None]) for m in ("ari", "nmi", "acc")}
    secs = np.array([r[key]["seconds"] for r in rows if r[key] is not None])
    out = {f"mean_{m}": float(v.mean()) for m, v in vals.items()}
    out.update({f"median_{m}": float(np.median(v)) for m, v in vals.items()})
    out["seconds_per_dataset"] = float(secs.mean())
    out["datasets"] = int(vals["ari"].size)
    return out


def score(y: np.ndarray, labels: np.ndarray, seconds: float) -> dict:
    s = external_scores(y, labels, ignore_label=-1)
    return {**{k: float(v) for k, v in s.items()}, "seconds": float(seconds)}


def run_cli(args: list[str], kb: str | None, selector: str | None) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``metaclust ARGS`` as a separate process (start-up included in the wall time)."""
    cmd = [sys.executable, "-m", "metaclust_automl", *args]
    if kb:
        cmd += ["--kb", kb]
    if selector:
        cmd += ["--selector", selector]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    return time.perf_counter() - start, proc


def time_cli_cluster(path: str, kb: str | None, selector: str | None) -> tuple[float, np.ndarray | None, str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "labels.csv"
        elapsed, proc = run_cli(["cluster", path, "-o", str(out), "--json"], kb, selector)
        if proc.returncode != 0:
            return elapsed, None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        labels = np.loadtxt(out, skiprows=1, dtype=np.int64)
        return elapsed, labels, json.loads(proc.stdout).get("algorithm", "")


def big_recommend(kb: str | None, selector: str | None) -> dict:
    """Time ``metaclust recommend`` on a 1,000,000 x 20 CSV (generated once, cached in /tmp)."""
    path = Path(os.environ.get("METACLUST_BIG_CSV", Path(tempfile.gettempdir()) / "metaclust-1m-x20.csv"))
    if not path.exists():
        rng = np.random.default_rng(0)
        centers = rng.normal(0, 10, size=(8, 20))
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            fh.write(",".join(f"x{j}" for j in range(20)) + "\n")
            for start in range(0, 1_000_000, 100_000):
                block = centers[rng.integers(0, 8, 100_000)] + rng.normal(size=(100_000, 20))
                np.savetxt(fh, block, fmt="%.4f", delimiter=",")
        os.replace(tmp, path)
    elapsed, proc = run_cli(["recommend", str(path), "--json"], kb, selector)
    return {"rows": 1_000_000, "columns": 20, "seconds": round(elapsed, 2), "exit_code": proc.returncode,
            "csv_mb": round(path.stat().st_size / 1e6, 1),
            "top1": (json.loads(proc.stdout)[0]["algorithm"] if proc.returncode == 0 else proc.stderr[-300:])}


# -- main ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=None, help="knowledge base directory (default: the shipped one)")
    ap.add_argument("--selectors", default="knn,maml,rl2")
    ap.add_argument("--budgets", default="0,5")
    ap.add_argument("--labels", default="", help="few-label counts to test with maml, e.g. 10,50,200")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--no-cli", action="store_true", help="skip timing `metaclust cluster` processes")
    ap.add_argument("--big", action="store_true", help="also time `metaclust recommend` on 1,000,000 x 20")
    ap.add_argument("--big-only", action="store_true",
                    help="only time the 1,000,000 x 20 recommend (e.g. on an idle machine) and add it to "
                         "an existing recommend.json in --out")
    ap.add_argument("--limit", type=int, default=0, help="only the first N datasets (smoke runs)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exclude-groups", default="wine,breast-cancer",
                    help="knowledge-base task groups left out before fitting: the built-in corpus's wine and "
                         "breast-cancer hold the same data as uci/wine and uci/wdbc")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    root = dataset_root()
    if args.big_only:
        return add_big_result(Path(args.out), args.kb)
    if root is None:
        print("bench/recommend.py: datasets not found (set METACLUST_DATASETS or provide "
              "../shared/datasets/clustering); skipping")
        return 0
    from metaclust_automl.corpus import load_directory
    from metaclust_automl.knowledge_base import KnowledgeBase, load_default
    from metaclust_automl.recommend import DEFAULT_SELECTOR, Recommender, load_selector
    from metaclust_automl.selectors.state import kb_fingerprint

    kb = KnowledgeBase.load(args.kb) if args.kb else load_default()
    excluded = {g for g in args.exclude_groups.split(",") if g}
    keep = [i for i, t in enumerate(kb.tasks) if t.group not in excluded]
    dropped = len(kb.tasks) - len(keep)
    if dropped:
        print(f"left out {dropped} knowledge-base tasks of groups {sorted(excluded)} (same data as dev datasets)")
        kb = kb.subset(keep)
        kb.save(Path(tempfile.mkdtemp(prefix="metaclust-bench-kb-")) / "kb")  # for the CLI processes
    tasks = load_directory(root)
    if args.limit:
        tasks = tasks[: args.limit]
    names = {t.id.split("/")[-1].lower() for t in tasks}
    leaked = [t.id for t in kb.tasks if t.id.split("/")[-1].lower() in names]
    if leaked:
        print(f"warning: the knowledge base holds tasks named like dev datasets: {leaked[:5]}")
    selectors = [s for s in args.selectors.split(",") if s]
    budgets = [int(b) for b in args.budgets.split(",") if b != ""]
    label_counts = [int(b) for b in args.labels.split(",") if b != ""]
    recs = {}
    fit_seconds = {}
    for name in [*selectors, *([] if DEFAULT_SELECTOR in selectors or args.no_cli else [DEFAULT_SELECTOR])]:
        start = time.perf_counter()
        sel = load_selector(name, kb)
        fit_seconds[name] = round(time.perf_counter() - start, 2)
        if dropped:  # the CLI processes read the reduced knowledge base with these weights
            sel.save(Path(kb.path) / "selectors" / name)
        if name in selectors:
            recs[name] = Recommender(kb, sel)
    kb_arg = str(kb.path) if dropped else args.kb
    methods = [f"{s} (budget {b})" for s in selectors for b in budgets]
    methods += [f"maml ({m} labels)" for m in label_counts if "maml" in recs]
    base = {} if args.no_baselines else baselines()
    rows = []
    print(f"{len(tasks)} datasets; knowledge base {kb.path} ({len(kb.tasks)} tasks x {len(kb.configs)} configurations, "
          f"checksum {kb_fingerprint(kb)[:12]})", flush=True)
    for t in tasks:
        X, y = t.X, t.y
        row = {"dataset": t.id, "n": int(X.shape[0]), "d": int(X.shape[1])}
        for name in selectors:
            for b in budgets:
                start = time.perf_counter()
                best, run, _ = recs[name].cluster(X, budget=b, seed=args.seed)
                row[f"{name} (budget {b})"] = {**score(y, run.labels, time.perf_counter() - start),
                                               "choice": best.config_id, "notes": run.notes}
        for m in label_counts:
            if "maml" not in recs:
                continue
            rng = np.random.default_rng(args.seed)
            known = np.full(X.shape[0], -1)
            pool = np.flatnonzero(y >= 0)
            pick = rng.choice(pool, min(m, pool.size), replace=False)
            known[pick] = y[pick]
            start = time.perf_counter()
            best, run, _ = recs["maml"].cluster(X, labels=known, seed=args.seed)
            row[f"maml ({m} labels)"] = {**score(y, run.labels, time.perf_counter() - start),
                                         "choice": best.config_id, "notes": run.notes}
        for bname, fn in base.items():
            start = time.perf_counter()
            try:
                labels = fn(X, seed=args.seed)
                row[bname] = score(y, labels, time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001 - a baseline failing is a result, not a crash
                row[bname] = {"ari": 0.0, "nmi": 0.0, "acc": 0.0, "seconds": time.perf_counter() - start,
                              "error": str(exc)[:200]}
        if not args.no_cli:
            secs, labels, what = time_cli_cluster(t.source, kb_arg, None)
            row["metaclust cluster (CLI, default selector)"] = (
                {**score(y, labels, secs), "choice": what} if labels is not None
                else {"ari": 0.0, "nmi": 0.0, "acc": 0.0, "seconds": secs, "error": what})
        rows.append(row)
        shown = "  ".join(f"{k.split(' (')[0][:12]}:{v['ari']:.2f}" for k, v in row.items() if isinstance(v, dict))
        print(f"{t.id:28s} n={X.shape[0]:6d} {shown}", flush=True)
    # the ceiling of the knowledge base's portfolio cannot be computed without running every
    # configuration on every dataset; it is reported from the table instead
    keys = methods + list(base) + ([] if args.no_cli else ["metaclust cluster (CLI, default selector)"])
    summary = {k: summarise(rows, k) for k in keys}
    result = {"knowledge_base": {"path": str(kb.path), "tasks": len(kb.tasks), "configs": len(kb.configs),
                                 "left_out_tasks": dropped, "left_out_groups": sorted(excluded),
                                 "metafeatures": len(kb.metafeature_names), "checksum": kb_fingerprint(kb)},
              "default_selector": DEFAULT_SELECTOR, "selector_load_or_fit_seconds": fit_seconds,
              "datasets": len(rows), "baseline_sample_rows": BASELINE_SAMPLE, "summary": summary, "rows": rows,
              "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "note": f"load average {os.getloadavg()[0]:.1f} at the end of the run"}}
    if args.big:
        result["recommend_1m_x_20"] = big_recommend(kb_arg, None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from metaclust_automl.atomic import write_text

    write_text(out / "recommend.json", json.dumps(result, indent=1))
    write_text(out / "recommend.md", render_md(result))
    print(render_md(result))
    return 0


def add_big_result(out: Path, kb: str | None) -> int:
    """Time the big recommend alone and merge it into the results of an earlier full run."""
    from metaclust_automl.atomic import write_text

    path = out / "recommend.json"
    if not path.exists():
        print(f"{path} does not exist: run the full benchmark first")
        return 1
    result = json.loads(path.read_text())
    result["recommend_1m_x_20"] = {**big_recommend(kb, None), "load_average_before": os.getloadavg()[0]}
    write_text(path, json.dumps(result, indent=1))
    write_text(out / "recommend.md", render_md(result))
    print(render_md(result))
    return 0


def render_md(result: dict) -> str:
    kb = result["knowledge_base"]
    lines = [
        "# bench/recommend.py",
        "",
        f"{result['datasets']} datasets of the development corpus (label 0 = noise, not scored). "
        f"Knowledge base: {kb['tasks']} tasks x {kb['configs']} configurations, {kb['metafeatures']} "
        f"meta-features (checksum {kb['checksum'][:12]}). Default selector: `{result['default_selector']}`.",
        f"Baselines search on a random sample of {result['baseline_sample_rows']:,} rows when a table is larger "
        "(the chosen configuration then labels every row). Times are wall-clock per dataset on this machine; "
        "the CLI row is a separate `metaclust cluster DATA -o labels.csv` process, start-up included.",
        "",
        "| method | mean ARI | median ARI | mean NMI | median NMI | mean ACC | median ACC | s / dataset |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in result["summary"].items():
        lines.append(f"| {name} | {s['mean_ari']:.3f} | {s['median_ari']:.3f} | {s['mean_nmi']:.3f} | "
                     f"{s['median_nmi']:.3f} | {s['mean_acc']:.3f} | {s['median_acc']:.3f} | "
                     f"{s['seconds_per_dataset']:.2f} |")
    big = result.get("recommend_1m_x_20")
    if big:
        lines += ["", f"`metaclust recommend` on a {big['rows']:,} x {big['columns']} CSV ({big['csv_mb']} MB): "
                      f"{big['seconds']} s (exit code {big['exit_code']}, top-1: {big['top1']})."]
    note = result.get("machine", {}).get("note")
    if note:
        lines += ["", f"Machine: {note}"]
    lines += ["", "Per-dataset scores and choices: bench/results/recommend.json."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
