"""Cross-validation of the selectors on a knowledge base alone (what their settings are tuned on).

Tasks are split into folds by group (variants of one source table stay together); each
selector is fitted on the other folds and picks a top-1 configuration for every held-out
task, zero-shot and with a probing budget (probes read the held-out task's internal
indices from C, as offline evaluation does). Reported: mean ARI of the pick, next to the
single best configuration of the training folds and the per-task oracle.

This never touches the development datasets, so it is where selector settings may be
tuned; bench/recommend.py only reports.

    python bench/selectors_cv.py --kb DIR [--selectors knn,maml,rl2] [--budgets 0,3,5] [--folds 5]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def folds_by_group(kb, k: int, seed: int) -> list[np.ndarray]:  # noqa: ANN001
    groups = sorted({t.group or t.id for t in kb.tasks})
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    fold_of = {g: i % k for i, g in enumerate(groups)}
    return [np.array([i for i, t in enumerate(kb.tasks) if fold_of[t.group or t.id] == f]) for f in range(k)]


def make_selector(name: str, overrides: dict):  # noqa: ANN201
    from metaclust_automl.plugins import get_registry

    sel = get_registry().selector(name)()
    for k, v in overrides.get(name, {}).items():
        setattr(sel, k, type(getattr(sel, k))(v))
    return sel


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", required=True)
    ap.add_argument("--selectors", default="knn,maml,rl2")
    ap.add_argument("--budgets", default="0,3,5")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="selector.attr=value, e.g. maml.steps=500")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)

    from metaclust_automl.knowledge_base import KnowledgeBase
    from metaclust_automl.selectors.base import Query, fit_seeded
    from metaclust_automl.selectors.features import performance

    kb = KnowledgeBase.load(args.kb)
    P = performance(kb)
    overrides: dict = {}
    for item in args.set:
        key, value = item.split("=", 1)
        sel, attr = key.split(".", 1)
        overrides.setdefault(sel, {})[attr] = value
    budgets = [int(b) for b in args.budgets.split(",")]
    folds = folds_by_group(kb, args.folds, args.seed)
    picks: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    sbs = np.zeros(len(kb.tasks))
    for f, test in enumerate(folds):
        if test.size == 0:
            continue
        train = np.setdiff1d(np.arange(len(kb.tasks)), test)
        sub = kb.subset(train)
        sbs[test] = P[test, int(np.argmax(P[train].mean(0)))]
        for name in args.selectors.split(","):
            start = time.perf_counter()
            sel = fit_seeded(make_selector(name, overrides), sub, args.seed)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
            for b in budgets:
                key = f"{name} (budget {b})"
                picks.setdefault(key, np.zeros(len(kb.tasks)))
                for t in test:
                    q = Query(metafeatures=kb.M[t], budget=b, seed=args.seed,
                              probe=lambda c, t=t: dict(zip(kb.index_names, kb.C[t, c].tolist())))
                    picks[key][t] = P[t, int(np.argmax(sel.predict_scores(q)))]
        print(f"fold {f + 1}/{len(folds)} done", flush=True)
    rows = {"oracle (best per task)": float(P.max(1).mean()), "single best config": float(sbs.mean())}
    rows.update({k: float(v.mean()) for k, v in picks.items()})
    width = max(len(k) for k in rows)
    print(f"{len(kb.tasks)} tasks x {len(kb.configs)} configurations, {len(folds)} group folds")
    for k, v in rows.items():
        print(f"{k:{width}s}  mean top-1 ARI {v:.3f}")
    print("fit seconds (all folds):", {k: round(v, 1) for k, v in seconds.items()})
    if args.out:
        from metaclust_automl.atomic import write_text

        write_text(args.out, json.dumps({"kb": args.kb, "folds": len(folds), "overrides": overrides,
                                         "mean_top1_ari": rows, "fit_seconds": seconds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
