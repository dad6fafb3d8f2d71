"""Benchmark of ``metaclust detect`` on the dev anomaly datasets (ADBench's classical sets).

For every dataset, in the same run: ROC-AUC and average precision of the meta-learned
policy, of each base detector of its state, and of their plain average (the mean of the
rank-normalised scores of all base detectors, and of ADBench's five classics IForest,
ECOD, HBOS, KNN, LOF); the seconds the meta-learned detector took (the base detectors
included); and how many rows ``--contamination auto`` flags next to the true count.
Then the speed targets, each the whole ``metaclust detect FILE -o OUT`` command in a fresh
process (start-up, reading the CSV and writing the scores included): 1,000 x 10, 50,000 x 100
and 5 x 10,000 tables; the machine's load (``uptime``) is recorded before each, since the
machine may be shared.

The policy never saw these datasets: it is trained on generated tasks only
(``metaclust train anomaly-policy``). Nothing here is tuned per dataset.

    python bench/anomaly.py            # writes bench/results/anomaly.{json,md}

Datasets: ``REPO/../shared/datasets/anomaly`` (or ``$METACLUST_DATASETS/anomaly``); the
benchmark skips cleanly when they are missing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLASSIC5 = ("iforest", "ecod", "hbos", "knn", "lof")
TARGET_AUC = 0.85
TARGET_GAIN = 0.03
#: --contamination auto: the flagged count within this factor of the truth on at least AUTO_SETS sets
AUTO_FACTOR, AUTO_SETS = 2.0, 8
#: (rows, columns, seconds) of the whole-command speed targets
SPEED_TARGETS = ((1_000, 10, 3.0), (50_000, 100, 8.0), (5, 10_000, 10.0))


def datasets_dir() -> Path:
    root = os.environ.get("METACLUST_DATASETS")
    base = Path(root) if root else REPO.parent / "shared" / "datasets"
    return base / "anomaly"


def rank01(s: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return (rankdata(s) - 1.0) / max(s.size - 1, 1)


def run_dataset(path: Path, policy: str | None, seed: int) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from metaclust_automl.anomaly import MetaAnomalyDetector

    with np.load(path, allow_pickle=False) as z:
        X = np.asarray(z["X"], dtype=np.float64)
        y = np.asarray(z["y"]).astype(int).ravel()
    started = time.perf_counter()
    det = MetaAnomalyDetector(policy=policy, random_state=seed).fit(X)
    seconds = time.perf_counter() - started
    names = list(det.observation_.bank.names)
    S = det.base_scores_
    ranks = np.column_stack([rank01(S[:, j]) for j in range(S.shape[1])])
    scores = {"meta_rl": det.decision_scores_}
    scores.update({name: S[:, j] for j, name in enumerate(names)})
    scores["average_all"] = ranks.mean(axis=1)
    scores["average_classic5"] = ranks[:, [names.index(c) for c in CLASSIC5]].mean(axis=1)
    return {
        "dataset": path.stem, "n": int(X.shape[0]), "d": int(X.shape[1]),
        "contamination": round(float(y.mean()), 4), "seconds": round(seconds, 3),
        "auto_flagged": int(det.labels_.sum()), "true_anomalies": int(y.sum()),
        "roc_auc": {k: round(float(roc_auc_score(y, v)), 4) for k, v in scores.items()},
        "average_precision": {k: round(float(average_precision_score(y, v)), 4) for k, v in scores.items()},
    }


def load_average() -> str:
    """The machine's 1/5/15-minute load averages (the speed targets are for an idle machine)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def speed_test(seed: int) -> list[dict]:
    """Each speed target as a user runs it: `metaclust detect table.csv -o scores.csv` in a new
    process, timed from start to exit."""
    import subprocess
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, target in SPEED_TARGETS:
            rng = np.random.default_rng(seed)
            X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d) if d <= 1000 else rng.normal(size=(n, d))
            X[: max(1, n // 100)] += 4.0
            path = Path(tmp) / f"t{n}x{d}.csv"
            header = ",".join(f"c{j}" for j in range(d))
            np.savetxt(path, X, delimiter=",", header=header, comments="", fmt="%.6g")
            load = load_average()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "metaclust_automl", "detect", str(path), "-o",
                                   str(Path(tmp) / "scores.csv"), "--top", "0"], capture_output=True, text=True)
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            ok = proc.returncode == 0 and len((Path(tmp) / "scores.csv").read_text().splitlines()) == n + 1
            out.append({"n": n, "d": d, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                        "target_seconds": target,
                        "met": bool(ok and seconds < target), "ok": ok, "load_before": load,
                        "error": None if ok else proc.stderr.strip()[-300:]})
            print(f"speed {n} x {d}: {seconds:.2f} s, CPU {cpu:.2f} s (load {load})", flush=True)
    return out


#: pyod's counterparts of the hand-written base detectors, and the pyod detectors the set lacked
#: (constructor keyword arguments: pyod's defaults except the seed)
PYOD_PAIRS = {"iforest": ("iforest", "IForest"), "knn": ("knn", "KNN"), "lof": ("lof", "LOF"),
              "ecod": ("ecod", "ECOD"), "copod": ("copod", "COPOD"), "hbos": ("hbos", "HBOS"),
              "pca": ("pca", "PCA"), "gmm": ("gmm", "GMM"), "mahalanobis": ("mcd", "MCD"),
              "loda": ("loda", "LODA"), "inne": ("inne", "INNE")}


def pyod_side_by_side(files: list[Path], seed: int) -> dict:
    """ROC-AUC and seconds of every hand-written base detector next to pyod's version of it,
    each fitted alone on every dev set (pyod on all rows, as it is used; ours on its
    bounded reference sample). This measurement is what decides which one the state uses."""
    import importlib
    import warnings

    from sklearn.metrics import roc_auc_score

    from metaclust_automl.anomaly.detectors import DETECTOR_NAMES, DetectorBank

    rows = []
    for path in files:
        with np.load(path, allow_pickle=False) as z:
            X = np.asarray(z["X"], dtype=np.float64)
            y = np.asarray(z["y"]).astype(int).ravel()
        Z = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
        row = {"dataset": path.stem, "n": int(X.shape[0]), "d": int(X.shape[1]), "ours": {}, "pyod": {}}
        for ours, (module, cls) in PYOD_PAIRS.items():
            if ours in DETECTOR_NAMES:
                t = time.perf_counter()
                s = DetectorBank(seed=seed, names=(ours,)).fit(X)[:, 0]
                row["ours"][ours] = {"roc_auc": round(float(roc_auc_score(y, s)), 4),
                                     "seconds": round(time.perf_counter() - t, 3)}
            Model = getattr(importlib.import_module(f"pyod.models.{module}"), cls)
            kwargs = {"random_state": seed} if "random_state" in Model.__init__.__code__.co_varnames else {}
            t = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s = Model(**kwargs).fit(Z).decision_scores_
                auc = round(float(roc_auc_score(y, np.nan_to_num(s))), 4)
            except Exception as exc:  # noqa: BLE001 - a pyod failure is a result to report
                auc = f"failed: {type(exc).__name__}"
            row["pyod"][ours] = {"roc_auc": auc, "seconds": round(time.perf_counter() - t, 3)}
        rows.append(row)
        print(path.stem, {k: v["roc_auc"] for k, v in row["ours"].items()},
              {k: v["roc_auc"] for k, v in row["pyod"].items()}, flush=True)
    return {"datasets": rows}


def pyod_markdown(result: dict) -> str:
    names = list(PYOD_PAIRS)
    lines = ["# Hand-written base detectors vs pyod's, side by side", "",
             "Each detector fitted alone on each dev set (ROC-AUC / seconds). pyod: its defaults, fitted on "
             "all rows of the standardised table; ours: as inside `metaclust detect` (bounded reference sample).", "",
             "| detector | ours mean ROC-AUC | pyod mean ROC-AUC | ours total s | pyod total s |", "|---|---|---|---|---|"]
    for name in names:
        def col(side: str, key: str) -> list:
            return [r[side][name][key] for r in result["datasets"] if name in r[side]]
        ours_auc, pyod_auc = col("ours", "roc_auc"), [a for a in col("pyod", "roc_auc") if isinstance(a, float)]
        fmt = lambda v: f"{np.mean(v):.4f}" if v else "-"  # noqa: E731
        lines.append(f"| {name} | {fmt(ours_auc)} | {fmt(pyod_auc)} ({len(pyod_auc)} sets) | "
                     f"{sum(col('ours', 'seconds')):.1f} | {sum(col('pyod', 'seconds')):.1f} |")
    lines += ["", "Per dataset (ours / pyod ROC-AUC):", "", "| dataset | " + " | ".join(names) + " |",
              "|---" * (len(names) + 1) + "|"]
    for r in result["datasets"]:
        cells = []
        for name in names:
            o = r["ours"].get(name, {}).get("roc_auc")
            p = r["pyod"][name]["roc_auc"]
            cells.append(f"{o if o is not None else '-'} / {p if isinstance(p, float) else 'fail'}")
        lines.append(f"| {r['dataset']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(report: dict) -> str:
    cols = report["methods"]
    lines = ["# Anomaly detection benchmark", "",
             f"Datasets: {len(report['datasets'])} from `{report['datasets_dir']}`; policy: "
             f"`{report['policy']}`; machine: {report['machine']}.", "",
             "## ROC-AUC", "", "| dataset | n | d | " + " | ".join(cols) + " | seconds |",
             "|---" * (len(cols) + 4) + "|"]
    for r in report["datasets"]:
        lines.append(f"| {r['dataset']} | {r['n']} | {r['d']} | "
                     + " | ".join(f"{r['roc_auc'][c]:.3f}" for c in cols) + f" | {r['seconds']:.1f} |")
    lines.append("| **mean** | | | " + " | ".join(f"**{report['mean_roc_auc'][c]:.3f}**" for c in cols) + " | |")
    lines += ["", "## Average precision", "", "| dataset | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in report["datasets"]:
        lines.append(f"| {r['dataset']} | " + " | ".join(f"{r['average_precision'][c]:.3f}" for c in cols) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{report['mean_average_precision'][c]:.3f}**" for c in cols) + " |")
    t = report["targets"]
    lines += ["", "## Targets", "",
              f"- mean ROC-AUC, meta_rl {t['meta_roc_auc']:.4f} (target >= {TARGET_AUC}): "
              f"{'met' if t['auc_met'] else 'NOT met'}",
              f"- vs iforest {t['iforest_roc_auc']:.4f}: gain {t['gain']:+.4f} (target >= +{TARGET_GAIN}): "
              f"{'met' if t['gain_met'] else 'NOT met'}",
              f"- mean average precision, meta_rl {t['meta_ap']:.4f} vs iforest {t['iforest_ap']:.4f}: "
              f"{'met' if t['ap_met'] else 'NOT met'}",
              f"- `--contamination auto` within {AUTO_FACTOR:g}x of the true count on {t['auto_within']} of "
              f"{len(report['datasets'])} sets (target >= {AUTO_SETS}): {'met' if t['auto_met'] else 'NOT met'}",
              f"- per-dataset oracle (best base detector chosen with the labels): {t['oracle_roc_auc']:.4f}"]
    if "speed" not in report:
        lines.append("- whole-command times: not measured in this run (`--skip-speed`: the shared machine was "
                     "loaded); see `anomaly_speed_*.json` beside this file")
    for sp in report.get("speed", []):
        cpu = f", CPU user+sys {sp['cpu_seconds']:.2f} s" if "cpu_seconds" in sp else ""
        lines.append(f"- `metaclust detect` on {sp['n']:,} x {sp['d']:,} (whole command): {sp['seconds']:.2f} s{cpu} "
                     f"(target < {sp['target_seconds']:g} s, load before: {sp['load_before']}): "
                     f"{'met' if sp['met'] else 'NOT met'}" + ("" if sp["ok"] else f" - failed: {sp['error']}"))
    lines += ["", "`--contamination auto` flagged vs true anomalies: "
              + ", ".join(f"{r['dataset']} {r['auto_flagged']}/{r['true_anomalies']}" for r in report["datasets"]), "",
              "## Notes", "",
              "- meta_rl is the shipped policy, trained only on generated tasks (`meta_datasets/anomaly/corpus.json`, "
              "`metaclust train anomaly-policy`); none of these datasets was used to train it or to tune "
              "anything per dataset. What these sets *did* decide (so these numbers are not a pristine held-out "
              "estimate): the first round's design (state, regularisers) was chosen while this benchmark's mean was "
              "watched; in this round the pyod side-by-side on these sets (`--pyod`, `anomaly_pyod.md`) replaced "
              "the reconstruction-error PCA by pyod's PCA score (0.640 -> 0.767 mean ROC-AUC alone). What did not "
              "use them: the new detectors (LODA, INNE, kNN at k = 20, KDE, MST) were added as the issue lists them "
              "and all kept; the checkpoint was chosen on held-out corpus tasks and the `--contamination auto` rule by "
              "leave-one-family-out over the corpus tasks (`bench/contamination.py`, `anomaly_contamination.md`: "
              "the dev sets only measure it there). "
              "Third round: training draws tasks balanced over the anomaly kinds and half of each task's normal rows "
              "from its hardest 10% (`balance_kinds`, `hard_negatives`), chosen because they gave the best mean "
              "held-out corpus ROC-AUC and AP over the six kinds (three seeds each); these sets were also watched "
              "(across the same three seeds meta_rl's mean ROC-AUC here was 0.809 before and 0.804-0.826 after; "
              "the shipped seed 0 is the top of that range).",
              "- All scores come from one fit per dataset: the base detectors are the ones inside meta_rl's state "
              "(standardised columns, default parameters, one seed); seconds = the whole meta_rl fit, base detectors "
              "included.",
              "- average_all: mean of the rank-normalised scores of every base detector; average_classic5: the same "
              "over iforest, ecod, hbos, knn, lof.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default=None, help="policy directory (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-speed", action="store_true", help="skip the whole-command timings")
    parser.add_argument("--pyod", action="store_true",
                        help="only the side-by-side of hand-written and pyod detectors (bench/results/anomaly_pyod.*)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "anomaly"),
                        help="results path without suffix (.json and .md are written)")
    args = parser.parse_args(argv)

    from metaclust_automl.atomic import write_text

    root = datasets_dir()
    files = sorted(root.glob("*.npz")) if root.is_dir() else []
    if not files:
        print(f"skipped: no anomaly datasets in {root} (set METACLUST_DATASETS)")
        return 0
    if args.pyod:
        result = pyod_side_by_side(files, args.seed)
        out = REPO / "bench" / "results" / "anomaly_pyod"
        write_text(out.with_suffix(".json"), json.dumps(result, indent=1) + "\n")
        write_text(out.with_suffix(".md"), pyod_markdown(result))
        print(pyod_markdown(result))
        return 0
    rows = []
    for path in files:
        r = run_dataset(path, args.policy, args.seed)
        rows.append(r)
        print(f"{r['dataset']:<22} meta {r['roc_auc']['meta_rl']:.3f}  iforest {r['roc_auc']['iforest']:.3f}  "
              f"avg {r['roc_auc']['average_all']:.3f}  {r['seconds']:.1f} s", flush=True)
    methods = list(rows[0]["roc_auc"])
    mean_auc = {m: round(float(np.mean([r["roc_auc"][m] for r in rows])), 4) for m in methods}
    mean_ap = {m: round(float(np.mean([r["average_precision"][m] for r in rows])), 4) for m in methods}
    base = [m for m in methods if m not in ("meta_rl", "average_all", "average_classic5")]
    oracle = float(np.mean([max(r["roc_auc"][m] for m in base) for r in rows]))
    gain = mean_auc["meta_rl"] - mean_auc["iforest"]
    ratios = [max(r["auto_flagged"], 1) / max(r["true_anomalies"], 1) for r in rows]
    auto_within = int(sum(1 / AUTO_FACTOR <= q <= AUTO_FACTOR for q in ratios))
    from metaclust_automl.anomaly.estimator import load_policy

    pol = load_policy(args.policy)
    report = {
        "datasets_dir": str(root), "policy": args.policy or "shipped",
        "policy_validation_auc": pol.info.get("validation_auc"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "seed": args.seed, "methods": methods, "datasets": rows,
        "mean_roc_auc": mean_auc, "mean_average_precision": mean_ap,
        "targets": {"meta_roc_auc": mean_auc["meta_rl"], "iforest_roc_auc": mean_auc["iforest"],
                    "auc_met": mean_auc["meta_rl"] >= TARGET_AUC,
                    "gain": round(gain, 4), "gain_met": gain >= TARGET_GAIN - 1e-9,
                    "meta_ap": mean_ap["meta_rl"], "iforest_ap": mean_ap["iforest"],
                    "ap_met": mean_ap["meta_rl"] >= mean_ap["iforest"],
                    "auto_within": auto_within, "auto_met": auto_within >= AUTO_SETS,
                    "oracle_roc_auc": round(oracle, 4)},
        "contamination_rule": pol.contamination_rule,
        "policy_contamination_held_out": pol.info.get("contamination"),
    }
    if not args.skip_speed:
        report["speed"] = speed_test(args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    md = markdown(report)
    write_text(out.with_suffix(".md"), md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
