"""Benchmark of issue 19: mixed tables and saved models, through the command line a user runs.

1. Mixed table: 3 clusters whose two numeric columns overlap (numeric-only k-means with the
   true k: ARI about 0.28) and whose ``colour`` column names the cluster 90% of the time.
   ``metaclust cluster mixed.csv -o labels.csv`` with no options; target ARI >= 0.7.
2. Saved model: 4 well-separated blobs, 2,000 rows; ``cluster fit.csv --save-model DIR`` on
   1,500 rows (no options, and with ``--algorithm kmeans``), ``predict DIR new.csv`` on the other
   500; target ARI >= 0.95; predicting the fitted rows must reproduce the fitted labels; the
   model directory must hold no pickle.
3. Numeric tables take the same path as before: every dev dataset
   (``../shared/datasets/clustering``; skipped when missing) loads as a plain float matrix
   with no layout, and the refactored preprocessing is bit-identical to ``main``'s on each.

    python bench/mixed_tables.py [--seeds 10] [--portfolio]   # writes bench/results/mixed_tables.{json,md}
    python bench/mixed_tables.py --compare 'old-knn=--kb build/kb-old --selectors-dir D --selector knn' ...
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

CENTRES = [(0, 0), (8, 0), (0, 8), (8, 8)]


def cli(*args: object, capture: dict | None = None) -> int:
    """Run the command line in process; with ``capture``, its stdout lands in ``capture["stdout"]``."""
    from metaclust_automl.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in args])
    if capture is not None:
        capture["stdout"] = out.getvalue()
    return code


def portfolio_best(X: np.ndarray, y: np.ndarray, kb_dir: str | None) -> tuple[float, str]:
    """The best ARI any configuration of the knowledge base reaches on the table (chosen with
    the labels: what a perfect selector would get), and that configuration."""
    from metaclust_automl.knowledge_base import KnowledgeBase, load_default
    from metaclust_automl.plugins import get_registry

    kb = KnowledgeBase.load(kb_dir) if kb_dir else load_default()
    best, which = -1.0, ""
    for c in kb.configs:
        try:
            a = adjusted_rand_score(y, get_registry().backend(c.algorithm).run(X, dict(c.params), seed=0).labels)
        except Exception:  # noqa: BLE001 - a failed configuration scores nothing
            continue
        if a > best:
            best, which = a, f"{c.algorithm} {json.dumps(c.params, sort_keys=True)}"
    return best, which


def mixed_part(seeds: int, tmp: Path, extra: tuple = (), kb_dir: str | None = None,
               portfolio: bool = False) -> list[dict]:
    from metaclust_automl.corpus.mixed import mixed_frame
    from metaclust_automl.loading import load_table

    rows = []
    for seed in range(seeds):
        df, y = mixed_frame(np.random.default_rng(seed), n=1000, k=3, sep=1.75, purity=0.9)
        path = tmp / "mixed.csv"
        df.to_csv(path, index=False)
        numeric = KMeans(3, random_state=0, n_init=3).fit_predict(df[["x1", "x2"]].to_numpy())
        onehot = KMeans(3, random_state=0, n_init=3).fit_predict(np.asarray(load_table(path).X))
        start = time.perf_counter()
        got: dict = {}
        code = cli("cluster", path, "-o", tmp / "labels.csv", "--json", "--seed", 0, *extra, capture=got)
        seconds = time.perf_counter() - start
        labels = pd.read_csv(tmp / "labels.csv")["label"].to_numpy() if code == 0 else np.zeros(len(y))
        try:
            chosen = json.loads(got["stdout"])
            chosen = f"{chosen['algorithm']} {json.dumps(chosen['params'], sort_keys=True)}"
        except (KeyError, ValueError):
            chosen = None
        best = portfolio_best(np.asarray(load_table(path).X), y, kb_dir) if portfolio else (None, None)
        rows.append({"seed": seed, "exit": code, "ari": adjusted_rand_score(y, labels), "chosen": chosen,
                     "portfolio_best": best[0], "portfolio_best_config": best[1],
                     "kmeans_numeric_true_k": adjusted_rand_score(y, numeric),
                     "kmeans_onehot_true_k": adjusted_rand_score(y, onehot),
                     "colour_alone": adjusted_rand_score(y, df["colour"].to_numpy()),
                     "seconds": seconds})
        print(f"mixed seed {seed}: ARI {rows[-1]['ari']:.3f} (numeric k-means {rows[-1]['kmeans_numeric_true_k']:.3f}, "
              f"one-hot k-means {rows[-1]['kmeans_onehot_true_k']:.3f}) {seconds:.1f} s", flush=True)
    return rows


def predict_part(seeds: int, tmp: Path) -> list[dict]:
    rows = []
    for seed in range(seeds):
        X, y = make_blobs(2000, 2, centers=CENTRES, cluster_std=1.0, random_state=seed)
        df = pd.DataFrame(X, columns=["a", "b"])
        df.iloc[:1500].to_csv(tmp / "fit.csv", index=False)
        df.iloc[1500:].to_csv(tmp / "new.csv", index=False)
        for how, extra in (("recommended", ()), ("kmeans", ("--algorithm", "kmeans", "--set", "n_clusters=4"))):
            model = tmp / f"model-{how}"
            code = cli("cluster", tmp / "fit.csv", "-o", tmp / "fit_labels.csv", "--save-model", model, *extra)
            code |= cli("predict", model, tmp / "new.csv", "-o", tmp / "new_labels.csv")
            code |= cli("predict", model, tmp / "fit.csv", "-o", tmp / "again.csv")
            fitted = pd.read_csv(tmp / "fit_labels.csv")["label"].to_numpy()
            new = pd.read_csv(tmp / "new_labels.csv")["label"].to_numpy()
            again = pd.read_csv(tmp / "again.csv")["label"].to_numpy()
            meta = json.loads((model / "model.json").read_text())
            files = sorted(p.name for p in model.iterdir())
            with np.load(model / "state.npz", allow_pickle=False) as z:  # raises on pickled objects
                objects = any(z[k].dtype == object for k in z.files)
            rows.append({"seed": seed, "how": how, "algorithm": meta["algorithm"], "rule": meta["rule"],
                         "exit": code, "fit_ari": adjusted_rand_score(y[:1500], fitted),
                         "new_ari": adjusted_rand_score(y[1500:], new),
                         "refit_equal": bool(np.array_equal(again, fitted)), "files": files,
                         "pickle_free": not objects and not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in files)})
            r = rows[-1]
            print(f"predict seed {seed} {how} ({r['algorithm']}, {r['rule']} rule): fit ARI {r['fit_ari']:.3f}, "
                  f"new ARI {r['new_ari']:.3f}, refit equal {r['refit_equal']}", flush=True)
    return rows


def numeric_part() -> dict:
    from metaclust_automl import preprocess
    from metaclust_automl.corpus.tasks import load_directory
    from metaclust_automl.encoding import layout_of

    root = Path(os.environ.get("METACLUST_DATASETS", REPO.parent / "shared" / "datasets")) / "clustering"
    if not root.is_dir():
        print("numeric check: dev datasets not found; skipped")
        return {"skipped": True}
    old_src = subprocess.run(["git", "show", "main:metaclust_automl/preprocess.py"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    old = types.ModuleType("old_preprocess")
    old.__dict__["__package__"] = "metaclust_automl"
    exec(compile(old_src, "main:preprocess.py", "exec"), old.__dict__)  # noqa: S102 - our own file at main
    tasks = load_directory(root)
    plain = identical = 0
    for t in tasks:
        plain += int(type(t.X) is np.ndarray and layout_of(t.X) is None)
        same = all(np.array_equal(preprocess.apply(t.X, m), old.apply(t.X, m), equal_nan=True)
                   for m in preprocess.METHODS)
        identical += int(same)
    print(f"numeric check: {plain}/{len(tasks)} dev tables plain float matrices, "
          f"{identical}/{len(tasks)} with bit-identical preprocessing", flush=True)
    return {"datasets": len(tasks), "plain": plain, "preprocess_identical": identical}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--portfolio", action="store_true", help="also run every configuration of the knowledge base "
                    "on each mixed table (the portfolio's best, chosen with the labels)")
    ap.add_argument("--compare", metavar="NAME=ARGS", action="append", default=[],
                    help="mixed part only, with extra cluster options (e.g. 'old-maml=--kb build/kb-old "
                         "--selectors-dir DIR --selector maml'); written to bench/results/mixed_tables_compare.json")
    args = ap.parse_args()
    if args.compare:
        res = {}
        with tempfile.TemporaryDirectory() as d:
            for item in args.compare:
                name, _, opts = item.partition("=")
                extra = tuple(opts.split())
                kb_dir = extra[extra.index("--kb") + 1] if "--kb" in extra else None
                print(f"== {name}: cluster {' '.join(extra)}", flush=True)
                rows = mixed_part(args.seeds, Path(d), extra, kb_dir, args.portfolio)
                ari = np.array([r["ari"] for r in rows])
                res[name] = {"options": list(extra), "mean": float(ari.mean()), "min": float(ari.min()),
                             "at_target": int((ari >= 0.7).sum()), "rows": rows}
                print(f"{name}: mean {ari.mean():.3f} min {ari.min():.3f} {int((ari >= 0.7).sum())}/{len(ari)} >= 0.7")
        out = REPO / "bench" / "results" / "mixed_tables_compare.json"
        out.write_text(json.dumps({"compare": res, "note": "measured on a shared 2-core machine under load"},
                                  indent=2, default=str))
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mixed = mixed_part(args.seeds, tmp, portfolio=args.portfolio)
        pred = predict_part(max(1, args.seeds // 2), tmp)
    numeric = numeric_part()
    ari = np.array([r["ari"] for r in mixed])
    summary = {"mixed_ari_mean": float(ari.mean()), "mixed_ari_min": float(ari.min()),
               "mixed_seeds_at_target": int((ari >= 0.7).sum()), "mixed_seeds": len(mixed),
               "kmeans_numeric_true_k_mean": float(np.mean([r["kmeans_numeric_true_k"] for r in mixed])),
               "kmeans_onehot_true_k_mean": float(np.mean([r["kmeans_onehot_true_k"] for r in mixed]))}
    for how in ("recommended", "kmeans"):
        sel = [r for r in pred if r["how"] == how]
        summary[f"predict_{how}_new_ari_min"] = float(min(r["new_ari"] for r in sel))
        summary[f"predict_{how}_new_ari_mean"] = float(np.mean([r["new_ari"] for r in sel]))
        summary[f"predict_{how}_refit_equal"] = all(r["refit_equal"] for r in sel)
        summary[f"predict_{how}_pickle_free"] = all(r["pickle_free"] for r in sel)
    out = {"summary": summary, "mixed": mixed, "predict": pred, "numeric": numeric,
           "note": "measured on a shared 2-core machine under load; times are not targets"}
    res = REPO / "bench" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "mixed_tables.json").write_text(json.dumps(out, indent=2, default=str))
    lines = ["# Mixed tables and saved models (bench/mixed_tables.py)", "",
             "| mixed table seed | `cluster` ARI | chosen | portfolio's best | numeric k-means (true k) "
             "| one-hot k-means (true k) | colour alone |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['seed']} | {r['ari']:.3f} | {r['chosen']} | "
              f"{'' if r['portfolio_best'] is None else format(r['portfolio_best'], '.3f')} | "
              f"{r['kmeans_numeric_true_k']:.3f} | {r['kmeans_onehot_true_k']:.3f} "
              f"| {r['colour_alone']:.3f} |" for r in mixed]
    lines += ["", f"Mixed: mean ARI {summary['mixed_ari_mean']:.3f}, min {summary['mixed_ari_min']:.3f}, "
              f"{summary['mixed_seeds_at_target']}/{len(mixed)} seeds >= 0.7.", "",
              "| blobs seed | how | algorithm (rule) | fit ARI | new-rows ARI | fitted rows reproduced |",
              "|---:|---|---|---:|---:|---|"]
    lines += [f"| {r['seed']} | {r['how']} | {r['algorithm']} ({r['rule']}) | {r['fit_ari']:.3f} | {r['new_ari']:.3f} "
              f"| {r['refit_equal']} |" for r in pred]
    lines += ["", f"Numeric dev tables: {json.dumps(numeric)}", "",
              "Measured on a shared, loaded 2-core machine."]
    (res / "mixed_tables.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
