"""Does a learned validity index make probing pay? Leave-one-family-out on the knowledge base alone.

For every family (group) of the knowledge base's tasks: the knn selector and the learned
validity index (:mod:`metaclust_automl.selectors.validity`) are fitted on the other
families; on each held-out task the selector's top ``budget`` configurations are "probed"
(their internal indices read from C, as offline evaluation does) and the pick is the best
of ``(1 - w) * selector score + w * learned validity`` over the probed ones. Reported:
mean ARI of the pick for every budget and blend weight w, next to the zero-shot pick, the
raw-silhouette pick (w = 1 with silhouette itself as the index) and the per-task oracle.

This is where the default blend and probe budget are chosen (never on the dev datasets).

    python bench/validity_cv.py --kb DIR [--budgets 0,2,3,5] [--blends 0,0.25,0.5,0.75,1]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=None)
    ap.add_argument("--selector", default="knn")
    ap.add_argument("--budgets", default="0,2,3,5")
    ap.add_argument("--blends", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "validity_cv.json"))
    args = ap.parse_args(argv)
    from metaclust_automl.knowledge_base import KnowledgeBase, load_default
    from metaclust_automl.plugins import get_registry
    from metaclust_automl.selectors.base import Query
    from metaclust_automl.selectors.features import performance
    from metaclust_automl.selectors.validity import ValidityIndex

    kb = KnowledgeBase.load(args.kb) if args.kb else load_default()
    P = performance(kb)
    budgets = [int(b) for b in args.budgets.split(",")]
    blends = [float(w) for w in args.blends.split(",")]
    algos = [c.algorithm for c in kb.configs]
    sil = list(kb.index_names).index("silhouette")
    groups = sorted({t.group or t.id for t in kb.tasks})
    picks = {}
    for g in groups:
        test = np.array([i for i, t in enumerate(kb.tasks) if (t.group or t.id) == g])
        train = np.setdiff1d(np.arange(len(kb.tasks)), test)
        sel = get_registry().selector(args.selector)().fit(kb.subset(train))
        vi = ValidityIndex.fit(kb, rows=train)
        for t in test:
            s = np.asarray(sel.predict_scores(Query(metafeatures=kb.M[t])), dtype=np.float64)
            order = np.argsort(-s, kind="stable")
            v = np.array([vi.predict(algos[c], kb.C[t, c]) for c in range(len(algos))])
            for b in budgets:
                probed = order[:max(b, 1)]
                for w in blends if b > 0 else [0.0]:
                    c = probed[int(np.argmax((1 - w) * s[probed] + w * v[probed]))]
                    picks.setdefault(f"budget {b}, blend {w:g}", []).append(P[t, c])
                if b > 0:
                    c = probed[int(np.argmax(np.nan_to_num(kb.C[t, probed, sil], nan=-1.0)))]
                    picks.setdefault(f"budget {b}, raw silhouette", []).append(P[t, c])
        print(f"family {g}: {test.size} tasks", flush=True)
    rows = {"oracle (best per task)": float(P.max(1).mean())}
    rows.update({k: float(np.mean(v)) for k, v in picks.items()})
    width = max(len(k) for k in rows)
    print(f"{len(kb.tasks)} tasks x {len(kb.configs)} configurations, {len(groups)} families held out one at a time")
    for k, v in rows.items():
        print(f"{k:{width}s}  mean ARI {v:.3f}")
    from metaclust_automl.atomic import write_text

    write_text(args.out, json.dumps({"kb": str(kb.path), "selector": args.selector, "families": len(groups),
                                     "tasks": len(kb.tasks), "configs": len(kb.configs),
                                     "mean_ari": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
