"""Benchmark of ``metaclust detect`` on the dev anomaly datasets (ADBench's classical sets).

For every dataset, in the same run: ROC-AUC and average precision of the meta-learned
policy, of each base detector of its state, and of their plain average (the mean of the
rank-normalised scores of all base detectors, and of ADBench's five classics IForest,
ECOD, HBOS, KNN, LOF); the seconds the meta-learned detector took (the base detectors
included); and how many rows ``--contamination auto`` flags next to the true count.
Then the speed target: a 50,000 x 100 table scored end to end.

The policy never saw these datasets: it is trained on generated tasks only
(``python -m metaclust_automl.anomaly.train``). Nothing here is tuned per dataset.

    python bench/anomaly.py            # writes bench/results/anomaly.{json,md}

Datasets: ``REPO/../shared/datasets/anomaly`` (or ``$METACLUST_DATASETS/anomaly``); the
benchmark skips cleanly when they are missing.
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

CLASSIC5 = ("iforest", "ecod", "hbos", "knn", "lof")
TARGET_GAIN = 0.02
TARGET_SECONDS = 60.0


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


def speed_test(policy: str | None, seed: int, n: int = 50_000, d: int = 100) -> dict:
    from metaclust_automl.anomaly import MetaAnomalyDetector

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    X[: n // 100] += rng.normal(scale=4.0, size=(n // 100, d))
    started = time.perf_counter()
    det = MetaAnomalyDetector(policy=policy, random_state=seed).fit(X)
    seconds = time.perf_counter() - started
    assert det.decision_scores_.shape == (n,) and np.all(np.isfinite(det.decision_scores_))
    return {"n": n, "d": d, "seconds": round(seconds, 2), "target_seconds": TARGET_SECONDS,
            "met": seconds < TARGET_SECONDS}


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
              f"- mean ROC-AUC, meta_rl {t['meta_roc_auc']:.4f} vs iforest {t['iforest_roc_auc']:.4f}: "
              f"gain {t['gain']:+.4f} (target >= +{TARGET_GAIN}): {'met' if t['gain_met'] else 'NOT met'}",
              f"- per-dataset oracle (best base detector chosen with the labels): {t['oracle_roc_auc']:.4f}"]
    if report.get("speed"):
        s = report["speed"]
        lines.append(f"- {s['n']:,} x {s['d']} table scored in {s['seconds']:.1f} s (target < {TARGET_SECONDS:.0f} s): "
                     f"{'met' if s['met'] else 'NOT met'}")
    lines += ["", "`--contamination auto` flagged vs true anomalies: "
              + ", ".join(f"{r['dataset']} {r['auto_flagged']}/{r['true_anomalies']}" for r in report["datasets"]), "",
              "## Notes", "",
              "- meta_rl is the shipped policy, trained only on generated tasks (`meta_datasets/anomaly/corpus.json`, "
              "`python -m metaclust_automl.anomaly.train`); none of these datasets was used to train it or to tune "
              "anything per dataset. Its design (detectors, state, regularisers) was chosen on held-out corpus tasks "
              "while this benchmark's mean was also watched, so these numbers are not a pristine held-out estimate.",
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
    parser.add_argument("--skip-speed", action="store_true", help="skip the 50,000 x 100 timing")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "anomaly"),
                        help="results path without suffix (.json and .md are written)")
    args = parser.parse_args(argv)

    from metaclust_automl.atomic import write_text

    root = datasets_dir()
    files = sorted(root.glob("*.npz")) if root.is_dir() else []
    if not files:
        print(f"skipped: no anomaly datasets in {root} (set METACLUST_DATASETS)")
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
    from metaclust_automl.anomaly.estimator import load_policy

    pol = load_policy(args.policy)
    report = {
        "datasets_dir": str(root), "policy": args.policy or "shipped",
        "policy_validation_auc": pol.info.get("validation_auc"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "seed": args.seed, "methods": methods, "datasets": rows,
        "mean_roc_auc": mean_auc, "mean_average_precision": mean_ap,
        "targets": {"meta_roc_auc": mean_auc["meta_rl"], "iforest_roc_auc": mean_auc["iforest"],
                    "gain": round(gain, 4), "gain_met": gain >= TARGET_GAIN, "oracle_roc_auc": round(oracle, 4)},
    }
    if not args.skip_speed:
        report["speed"] = speed_test(args.policy, args.seed)
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
