"""How the probe judge (``metaclust_automl/selectors/judge.py``) and the default budget were chosen.

Reads the judge's training rows (``metaclust train judge``: for every knowledge-base task, the
first five candidates of the knn selector fitted without the task's group, run on the task's
probe sample). For every corpus family (leave one family out) and every dev battery (fcps,
graves, sipu, uci: leave one battery out) the judge is fitted on the rows of the other groups
and picks among the first b candidates of each held-out task; the score is the stored ARI of
its pick. Reported per budget b and ridge alpha: mean ARI over the corpus tasks (LOFO) and the
dev tasks (LOBO), per battery, and the paired difference to the selector's first choice
(budget 0) with its standard error (over families for LOFO, over datasets for LOBO); also a
perfect judge of the b candidates (the best of them, with labels). A setting is a candidate
default only if it wins on both; bench/quality.py then measures it through `metaclust cluster`.

    python bench/judge_cv.py [--rows FILE] [--alphas 1,30] [--out bench/results/judge_cv.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BATTERIES = ("fcps", "graves", "sipu", "uci")
BUDGETS = (2, 3, 4, 5)


def summary(got: np.ndarray, base: np.ndarray, G: np.ndarray, dev: np.ndarray) -> dict[str, float]:
    d = got - base
    families = sorted(set(G[~dev]))
    fam = np.array([d[G == f].mean() for f in families])
    out = {"lofo_mean_ari": float(got[~dev].mean()), "lobo_mean_ari": float(got[dev].mean()),
           "lofo_diff": float(d[~dev].mean()), "lofo_diff_se": float(fam.std() / np.sqrt(len(fam))),
           "lobo_diff": float(d[dev].mean()), "lobo_diff_se": float(d[dev].std() / np.sqrt(dev.sum()))}
    out.update({f"lobo_{b}": float(got[G == b].mean()) for b in BATTERIES if (G == b).any()})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=None, help="judge rows file (default: the shipped one)")
    ap.add_argument("--alphas", default="1,30")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "judge_cv.json"))
    args = ap.parse_args(argv)
    from metaclust_automl.atomic import write_text
    from metaclust_automl.selectors.judge import Judge, candidate_features, probe_sets, read_rows

    rows = read_rows(args.rows)
    tasks = [r for r in rows["tasks"] if len(r["scores"]) >= max(BUDGETS)]
    if not tasks:
        print("no rows with five candidates: run `metaclust train judge` first")
        return 1
    G = np.array([r["group"] for r in tasks])
    dev = np.isin(G, BATTERIES)
    ids = np.array([r["id"] for r in tasks])
    groups = sorted(set(G[~dev])) + [b for b in BATTERIES if (G == b).any()]
    ari = np.array([r["ari"][:max(BUDGETS)] for r in tasks])
    base = ari[:, 0]
    results: dict[str, dict] = {"budget 0 (selector's first choice)": summary(base, base, G, dev)}
    for b in BUDGETS:
        results[f"budget {b}: perfect judge"] = summary(ari[:, :b].max(1), base, G, dev)
    for alpha in [float(a) for a in args.alphas.split(",")]:
        got = {b: np.zeros(len(tasks)) for b in BUDGETS}
        for g in groups:
            test = np.flatnonzero(G == g)
            judge = Judge.fit(*probe_sets(rows, list(ids[G != g]), BUDGETS), alpha=alpha)
            for t in test:
                r = tasks[t]
                for b in BUDGETS:
                    F = candidate_features(r["scores"][:b], r["indices"][:b], np.asarray(r["agree"])[:b, :b])
                    got[b][t] = ari[t, judge.order(F, r["indices"][:b])[0]]
        for b in BUDGETS:
            results[f"budget {b}: judge, alpha {alpha:g}"] = summary(got[b], base, G, dev)
    for name, r in results.items():
        print(f"{name:36s} LOFO {r['lofo_mean_ari']:.3f} ({r['lofo_diff']:+.3f}±{r['lofo_diff_se']:.3f})  "
              f"LOBO {r['lobo_mean_ari']:.3f} ({r['lobo_diff']:+.3f}±{r['lobo_diff_se']:.3f})  "
              + " ".join(f"{b} {r.get(f'lobo_{b}', 0):.3f}" for b in BATTERIES), flush=True)
    write_text(args.out, json.dumps({"rows": {"tasks": len(tasks), "corpus": int((~dev).sum()), "dev": int(dev.sum()),
                                              "families": len(set(G[~dev]))}, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
