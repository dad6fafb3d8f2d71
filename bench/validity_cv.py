"""Does a probe budget pay? The ranking path `metaclust cluster --budget B` runs, on the knowledge base's stored rows.

For every corpus family (leave one family out) and every dev battery (fcps, graves, sipu,
uci: leave one battery out), the default knn selector and the learned validity index
(:mod:`metaclust_automl.selectors.validity`) are fitted on the knowledge base without that
group. On each held-out task the selector ranks with ``Query(budget=B, probe=...)``, where a
probe returns the task's stored internal indices ``C[t, c]`` (what ``metaclust cluster``
computes on its probe sample), so the selector's own probe re-scoring (``probe_blend``:
neighbours in the joint meta-feature x index space) runs as in the CLI; then the probed
configurations are blended with the learned validity index (weight ``w``, as
``recommend.ranking.rank`` does), and the pick is the first of the ranking core's order
(sub-portfolio and probed configurations first). The score is the stored ARI of the pick.

Reported per budget, knn probe blend and validity blend: mean ARI over the corpus tasks (LOFO)
and the dev tasks (LOBO), per battery, and the paired difference to budget 0 with its standard
error (over families for LOFO, over datasets for LOBO); also the best of the probed
configurations (a perfect judge) and best-silhouette among them. A budget becomes the default
only if it wins on both; bench/quality.py then measures it through `metaclust cluster`.

    python bench/validity_cv.py [--kb DIR] [--budgets 0,2,3,5] [--knn-blends 0,0.5] [--blends 0,0.25,0.5]
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


def paired(got: np.ndarray, base: np.ndarray, G: np.ndarray, dev: np.ndarray) -> dict[str, float | None]:
    """Means over corpus and dev tasks, per battery, and the paired differences to ``base``."""
    d = got - base
    families = sorted(set(G[~dev]))
    fam = np.array([d[G == f].mean() for f in families])
    out: dict[str, float | None] = {"lofo_mean_ari": float(got[~dev].mean()),
                                    "lobo_mean_ari": float(got[dev].mean()) if dev.any() else None}
    out.update({f"lobo_{b}": float(got[G == b].mean()) for b in BATTERIES if (G == b).any()})
    out.update({"lofo_diff": float(d[~dev].mean()), "lofo_diff_se": float(fam.std() / np.sqrt(len(fam))),
                "lobo_diff": float(d[dev].mean()) if dev.any() else None,
                "lobo_diff_se": float(d[dev].std() / np.sqrt(dev.sum())) if dev.any() else None})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=None)
    ap.add_argument("--budgets", default="0,2,3,5")
    ap.add_argument("--knn-blends", default="0,0.5", help="the knn selector's probe_blend values")
    ap.add_argument("--blends", default="0,0.25,0.5", help="the learned validity index's blend values")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "validity_cv.json"))
    args = ap.parse_args(argv)
    from metaclust_automl.knowledge_base import KnowledgeBase, load_default
    from metaclust_automl.recommend.ranking import ranked_first
    from metaclust_automl.selectors.base import Query
    from metaclust_automl.selectors.features import performance
    from metaclust_automl.selectors.knn import KNNSelector
    from metaclust_automl.selectors.validity import ValidityIndex

    kb = KnowledgeBase.load(args.kb) if args.kb else load_default()
    P = performance(kb)
    budgets = [int(b) for b in args.budgets.split(",")]
    knn_blends = [float(a) for a in args.knn_blends.split(",")]
    blends = [float(w) for w in args.blends.split(",")]
    algos = [c.algorithm for c in kb.configs]
    names = list(kb.index_names)
    sil = names.index("silhouette")
    G = np.array([t.group or t.id for t in kb.tasks])
    dev = np.isin(G, BATTERIES)
    groups = sorted(set(G[~dev])) + [b for b in BATTERIES if (G == b).any()]
    T = len(G)
    picks: dict[str, np.ndarray] = {}

    def put(key: str, t: int, value: float) -> None:
        picks.setdefault(key, np.zeros(T))[t] = value

    for g in groups:
        test = np.flatnonzero(G == g)
        train = np.setdiff1d(np.arange(T), test)
        sub = kb.subset(list(train))
        sels = {a: KNNSelector(probe_blend=a).fit(sub) for a in knn_blends}
        vi = ValidityIndex.fit(kb, rows=train)
        first = ranked_first(sels[knn_blends[0]], len(kb.configs))
        for t in test:
            probe = (lambda c, t=t: dict(zip(names, kb.C[t, int(c)].tolist())))
            for b in budgets:
                for a in knn_blends if b > 0 else knn_blends[:1]:
                    probed: list[int] = []

                    def recording(c: int, probe=probe, probed=probed) -> dict[str, float]:  # noqa: ANN001
                        probed.append(int(c))
                        return probe(c)

                    s = np.asarray(sels[a].predict_scores(Query(metafeatures=kb.M[t], probe=recording, budget=b)),
                                   dtype=np.float64)
                    f = first.copy()
                    f[probed] = True
                    for w in blends if b > 0 else [0.0]:
                        r = s.copy()
                        for c in probed:
                            r[c] = (1 - w) * r[c] + w * vi.predict(algos[c], kb.C[t, c])
                        put(f"budget {b}, knn blend {a:g}, validity blend {w:g}" if b > 0 else "budget 0",
                            t, P[t, int(np.lexsort((-r, ~f))[0])])
                    if b > 0 and a == knn_blends[0]:
                        put(f"budget {b}: best probed (perfect judge)", t, P[t, probed].max())
                        c = probed[int(np.argmax(np.nan_to_num(kb.C[t, probed, sil], nan=-1.0)))]
                        put(f"budget {b}: best silhouette among probed", t, P[t, c])
        print(f"{g}: {test.size} tasks", flush=True)
    base = picks["budget 0"]
    rows = {k: paired(v, base, G, dev) for k, v in picks.items()}
    width = max(len(k) for k in rows)
    for k, r in rows.items():
        print(f"{k:{width}s}  LOFO {r['lofo_mean_ari']:.3f} ({r['lofo_diff']:+.3f}±{r['lofo_diff_se']:.3f})  "
              f"LOBO {r['lobo_mean_ari'] or 0:.3f} ({r['lobo_diff'] or 0:+.3f}±{r['lobo_diff_se'] or 0:.3f})  "
              + " ".join(f"{b} {r.get(f'lobo_{b}', 0):.3f}" for b in BATTERIES))
    from metaclust_automl.atomic import write_text

    write_text(args.out, json.dumps({
        "knowledge_base": {"tasks": T, "configs": len(kb.configs)}, "selector": "knn (default settings)",
        "corpus_tasks": int((~dev).sum()), "families": len(groups) - int(sum((G == b).any() for b in BATTERIES)),
        "dev_tasks": int(dev.sum()), "oracle_lofo": float(P[~dev].max(1).mean()),
        "oracle_lobo": float(P[dev].max(1).mean()) if dev.any() else None, "variants": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
