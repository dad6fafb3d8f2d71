"""Leave-one-battery-out on the dev datasets, offline: selectors judged on the rows the knowledge base holds.

For each battery (fcps, graves, sipu, uci) the selector is fitted on the shipped knowledge
base without that battery's tasks and picks a configuration for each of its datasets from
the stored meta-features; the score is the stored ARI of that pick (every configuration was
run on each dataset by meta-training, on a 1,500-row sample of bigger tables). With a budget,
the top configurations' internal indices are read from C and judged by the learned validity
index, as `--budget` does on a new table. Cheap (no clustering run), so it can compare
selectors and budgets; bench/quality.py measures what a user gets through the CLI.

    python bench/lobo_offline.py [--selectors knn,maml] [--budgets 0,3]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=None)
    ap.add_argument("--selectors", default="knn,maml")
    ap.add_argument("--budgets", default="0,3")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "lobo_offline.json"))
    args = ap.parse_args(argv)
    from metaclust_automl.knowledge_base import KnowledgeBase, load_default
    from metaclust_automl.plugins import get_registry
    from metaclust_automl.recommend.ranking import ranked_first
    from metaclust_automl.selectors.base import Query
    from metaclust_automl.selectors.features import performance
    from metaclust_automl.selectors.validity import ValidityIndex

    kb = KnowledgeBase.load(args.kb) if args.kb else load_default()
    P = performance(kb)
    algos = [c.algorithm for c in kb.configs]
    budgets = [int(b) for b in args.budgets.split(",")]
    res: dict[str, dict[str, float]] = {}
    dev = [i for i, t in enumerate(kb.tasks) if t.group in BATTERIES]
    if not dev:
        print("the knowledge base holds no dev datasets; nothing to do")
        return 0
    for name in args.selectors.split(","):
        for bat in BATTERIES:
            test = [i for i in dev if kb.tasks[i].group == bat]
            train = [i for i in range(len(kb.tasks)) if kb.tasks[i].group != bat]
            sub = kb.subset(train)
            sel = get_registry().selector(name)().fit(sub)
            vi = ValidityIndex.fit(sub)
            for t in test:
                for b in budgets:
                    q = Query(metafeatures=kb.M[t], budget=b, seed=0,
                              probe=lambda c, t=t: dict(zip(kb.index_names, kb.C[t, c].tolist())))
                    s = np.asarray(sel.predict_scores(q), dtype=np.float64)
                    if b > 0:
                        top = np.argsort(-s, kind="stable")[:b]
                        s = vi.rescore(s, {int(c): kb.C[t, c] for c in top}, algos)
                    pick = int(np.lexsort((-s, ~ranked_first(sel, len(kb.configs))))[0])  # as the ranking core orders
                    res.setdefault(f"{name} (budget {b})", {})[kb.tasks[t].id] = float(P[t, pick])
            print(f"{name}: {bat} done", flush=True)
    rows = {k: float(np.mean(list(v.values()))) for k, v in res.items()}
    rows["ceiling (best per dataset)"] = float(P[dev].max(1).mean())
    for k, v in rows.items():
        print(f"{k:30s} mean ARI {v:.3f}")
    from metaclust_automl.atomic import write_text

    write_text(args.out, json.dumps({"mean_ari": rows, "per_dataset": res}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
