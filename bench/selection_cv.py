"""How the knn selector's settings were chosen: leave-one-family-out over the corpus and leave-one-battery-out over the dev tasks.

Both on the shipped knowledge base's stored rows (no clustering run): for every generated
or bundled family of corpus tasks, and for every dev battery (fcps, graves, sipu, uci), the
selector is fitted on the knowledge base without that group and picks a configuration for
each of its tasks from the stored meta-features, in the order the ranking core uses
(``recommend.ranking.ranked_first``: a selector's robust sub-portfolio first); the score is
the stored ARI of that pick. Reported: mean ARI over the corpus tasks (LOFO), over the dev
tasks (LOBO) and per battery, and the paired difference to the previous default (raw ARI
rows, no sub-portfolio) with its standard error (over families for LOFO, over datasets for
LOBO). The setting that wins on both is the default; bench/quality.py then measures it
through `metaclust cluster`.

    python bench/selection_cv.py [--kb DIR] [--out bench/results/selection_cv.json]
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

#: the variants compared: name -> KNNSelector parameters
VARIANTS: dict[str, dict] = {
    "knn raw ARI, whole portfolio (previous default)": {"target": "ari", "portfolio_size": 0},
    "knn share of best, whole portfolio": {"target": "share_of_best", "portfolio_size": 0},
    "knn raw ARI, sub-portfolio 20": {"target": "ari", "portfolio_size": 20},
    **{f"knn share of best, sub-portfolio {n}": {"target": "share_of_best", "portfolio_size": n}
       for n in (10, 15, 20, 25, 30)},
    **{f"knn share of best, sub-portfolio 20, k={k}": {"target": "share_of_best", "portfolio_size": 20, "k": k}
       for k in (5, 8, 12, 20)},
}
BASELINE = "knn raw ARI, whole portfolio (previous default)"


def picks(kb, params: dict, folds: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    """The configuration each task gets when its fold is held out."""
    from metaclust_automl.recommend.ranking import ranked_first
    from metaclust_automl.selectors.base import Query
    from metaclust_automl.selectors.knn import KNNSelector

    out = np.zeros(len(kb.tasks), dtype=int)
    for test in folds:
        train = np.setdiff1d(np.arange(len(kb.tasks)), test)
        sel = KNNSelector(**params).fit(kb.subset(list(train)))
        first = ranked_first(sel, len(kb.configs))
        for t in test:
            s = np.asarray(sel.predict_scores(Query(metafeatures=kb.M[t])), dtype=np.float64)
            out[t] = int(np.lexsort((-s, ~first))[0])
    return out


def single_best(P: np.ndarray, G: np.ndarray, dev: np.ndarray, folds: list[np.ndarray]) -> dict[str, float]:
    """The configuration with the best mean ARI on the other groups, for every held-out group."""
    got = np.zeros(len(G))
    for test in folds:
        train = np.setdiff1d(np.arange(len(G)), test)
        got[test] = P[test, int(np.argmax(P[train].mean(0)))]
    return {"single_best_lofo": float(got[~dev].mean()), "single_best_lobo": float(got[dev].mean()) if dev.any() else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=None)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "selection_cv.json"))
    args = ap.parse_args(argv)
    from metaclust_automl.knowledge_base import KnowledgeBase, load_default
    from metaclust_automl.selectors.features import performance

    kb = KnowledgeBase.load(args.kb) if args.kb else load_default()
    P = performance(kb)
    G = np.array([t.group or t.id for t in kb.tasks])
    dev = np.isin(G, BATTERIES)
    families = sorted(set(G[~dev]))
    folds = [np.flatnonzero(G == g) for g in families + [b for b in BATTERIES if (G == b).any()]]
    got = {name: P[np.arange(len(G)), picks(kb, params, folds)] for name, params in VARIANTS.items()}
    base = got[BASELINE]
    rows = {}
    for name, g in got.items():
        d = g - base
        fam = np.array([d[G == f].mean() for f in families])
        rows[name] = {"params": VARIANTS[name], "lofo_mean_ari": float(g[~dev].mean()),
                      "lobo_mean_ari": float(g[dev].mean()) if dev.any() else None,
                      **{f"lobo_{b}": float(g[G == b].mean()) for b in BATTERIES if (G == b).any()},
                      "lofo_diff": float(d[~dev].mean()), "lofo_diff_se": float(fam.std() / np.sqrt(len(fam))),
                      "lobo_diff": float(d[dev].mean()) if dev.any() else None,
                      "lobo_diff_se": float(d[dev].std() / np.sqrt(dev.sum())) if dev.any() else None}
        r = rows[name]
        print(f"{name:48s} LOFO {r['lofo_mean_ari']:.3f} ({r['lofo_diff']:+.3f}±{r['lofo_diff_se']:.3f})  "
              f"LOBO {r['lobo_mean_ari'] or 0:.3f} ({r['lobo_diff'] or 0:+.3f}±{r['lobo_diff_se'] or 0:.3f})  "
              + " ".join(f"{b} {r.get(f'lobo_{b}', 0):.3f}" for b in BATTERIES), flush=True)
    summary = {"corpus_tasks": int((~dev).sum()), "families": len(families), "dev_tasks": int(dev.sum()),
               "oracle_lofo": float(P[~dev].max(1).mean()), "oracle_lobo": float(P[dev].max(1).mean()) if dev.any() else None,
               **single_best(P, G, dev, folds)}
    from metaclust_automl.atomic import write_text

    write_text(args.out, json.dumps({"knowledge_base": {"tasks": len(kb.tasks), "configs": len(kb.configs)},
                                     "summary": summary, "baseline": BASELINE, "variants": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
