"""``--contamination auto``: every candidate rule chosen on the corpus, then measured on the dev sets.

Chooses (corpus only): the policy's logits on every corpus task, and each method of
``anomaly.contamination`` (threshold, EM, boosted regression) scored by leave-one-family-out
(``choose_rule``, the code path ``metaclust train anomaly-policy`` runs). Measures (dev sets,
never used to choose): each method fitted on all corpus tasks, the flagged count on each dev
set against the true count; how many are within 2x, and the median ratio.

    python bench/contamination.py --cache CORPUS_STATES.npz   # writes bench/results/anomaly_contamination.{json,md}

``--cache``: the corpus states file of ``metaclust train anomaly-policy --cache`` (built when
missing, several minutes). Dev sets: ``REPO/../shared/datasets/anomaly``; skipped when missing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def corpus_tasks(policy, cache: str | None) -> list[tuple]:
    from metaclust_automl.anomaly.contamination import share_features
    from metaclust_automl.generators.anomalies import generate, load_spec
    from metaclust_automl.training.anomaly_policy import filter_tasks, load_cache, save_cache, task_states

    spec = load_spec(None)
    spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    if cache and Path(cache).is_file():
        states = load_cache(Path(cache), spec_hash)
    else:
        states = task_states(list(generate(spec)), progress=True)
        if cache:
            save_cache(Path(cache), states, spec_hash)
    states, _ = filter_tasks(states, float(spec.get("filter", {}).get("min_best_auc", 0.6)),
                             float(spec.get("filter", {}).get("min_mean_auc", 0.5)))
    out = []
    for t in states:
        z = policy.logits(t.state)
        out.append((z, t.y, share_features(z, t.state, len(policy.detectors)), t.family))
    return out


def dev_tasks(policy, root: Path) -> list[tuple]:
    from metaclust_automl.anomaly.contamination import share_features
    from metaclust_automl.anomaly.observe import observe

    out = []
    for path in sorted(root.glob("*.npz")):
        with np.load(path, allow_pickle=False) as z:
            X = np.asarray(z["X"], dtype=np.float64)
            y = np.asarray(z["y"]).astype(int).ravel()
        state = observe(X, detectors=tuple(policy.detectors), seed=0).state
        logits = policy.logits(state)
        out.append((logits, y, share_features(logits, state, len(policy.detectors)), path.stem))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default=None, help="policy directory (default: the shipped one)")
    parser.add_argument("--cache", default=None, help="corpus states file (read, or written when missing)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "anomaly_contamination"))
    args = parser.parse_args(argv)

    from metaclust_automl.anomaly.contamination import FITTERS, choose_rule, estimate, flagged_error
    from metaclust_automl.anomaly.estimator import load_policy
    from metaclust_automl.atomic import write_text

    sys.path.insert(0, str(REPO / "bench"))
    from anomaly import datasets_dir

    root = datasets_dir()
    if not root.is_dir() or not any(root.glob("*.npz")):
        print(f"skipped: no anomaly datasets in {root}")
        return 0
    policy = load_policy(args.policy)
    corpus = corpus_tasks(policy, args.cache)
    chosen = choose_rule(corpus)
    dev = dev_tasks(policy, root)
    measured = {}
    for name, fit in FITTERS.items():
        rule = fit(corpus)
        rows = []
        for z, y, f, stem in dev:
            share = estimate(rule, z, f)
            flagged = max(1, int(np.ceil(share * y.size)))
            rows.append({"dataset": stem, "flagged": flagged, "true": int(y.sum()),
                         "ratio": round(flagged_error(share, y.size, int(y.sum())), 3)})
        ratios = np.array([r["ratio"] for r in rows])
        measured[name] = {"within_2x": int(np.sum(ratios <= 2.0)), "median_ratio": round(float(np.median(ratios)), 3),
                          "datasets": rows}
    report = {"chosen": {k: v for k, v in chosen.items() if k != "trees"}, "dev_measured_only": measured,
              "corpus_tasks": len(corpus), "dev_sets": len(dev)}
    lines = ["# `--contamination auto`: chosen on the corpus, measured on the dev sets", "",
             f"Chosen on {len(corpus)} corpus tasks by leave-one-family-out (share of tasks within 2x of the true "
             f"count): " + ", ".join(f"{k} {v:.3f}" for k, v in chosen["within_2x"].items())
             + f". Shipped: **{chosen['method']}**.", "",
             f"Measured only (each rule fitted on all corpus tasks; {len(dev)} dev sets, never used to choose):", "",
             "| rule | within 2x | median ratio | " + " | ".join(r["dataset"] for r in measured["threshold"]["datasets"])
             + " |", "|---" * (3 + len(dev)) + "|"]
    for name, m in measured.items():
        lines.append(f"| {name} | {m['within_2x']}/{len(dev)} | {m['median_ratio']:.2f} | "
                     + " | ".join(f"{r['flagged']}/{r['true']}" for r in m["datasets"]) + " |")
    lines += ["", "Cells: flagged / true anomalies. Ratio: max(flagged/true, true/flagged).", ""]
    out = Path(args.out)
    write_text(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    write_text(out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
