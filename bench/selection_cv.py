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

``ALTERNATIVES`` (issue 16, second round) are changes to the selector that its parameters do
not cover, measured the same way by :func:`alternative_picks`, a re-implementation of the
knn estimate (the "knn default" row reproduces the selector's picks exactly): other
meta-feature scalings (rank/normal scores, z-scores, other clip levels), at most a few
neighbours per family, the estimate averaged over several k, mean minus half a standard
deviation over the neighbours (a risk-averse choice), ties within a margin broken towards the
configuration the greedy cover added first, and meta-features dropped when leaving them
out raised the mean ARI of the training groups (importance measured inside each fold, on
the training groups only). Their paired differences are to the knn default; each also
counts the dev picks that move when the mixed-types family leaves the training rows (how
stable the picks are to adding tables unlike them).

    python bench/selection_cv.py [--kb DIR] [--out bench/results/selection_cv.json] [--no-alternatives]
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

#: changes the selector's parameters do not cover: name -> spec for :func:`alternative_picks`
ALTERNATIVES: dict[str, dict] = {
    "knn default": {},
    "meta-features as normal scores of their ranks (all tables)": {"scaling": "rank"},
    "meta-features as z-scores (mean, sd; all tables)": {"scaling": "zscore"},
    **{f"robust scaling clipped at {c}": {"clip": c} for c in (3.0, 10.0)},
    **{f"at most {c} neighbours per family": {"cap": c} for c in (2, 5)},
    "estimate averaged over k = 5, 10, 15, 20": {"ks": (5, 10, 15, 20)},
    "mean - 0.5 sd over the neighbours": {"lam": 0.5},
    "ties within 0.02 to the earliest cover configuration": {"tie": 0.02},
    "meta-features with negative importance dropped (nested)": {"drop": True},
}
ALT_BASELINE = "knn default"
#: the family whose removal from the training rows measures how stable the dev picks are
STABILITY_FAMILY = "mixed-types"


def _scaler(M: np.ndarray, names: list[str], scaling: str, clip: float):  # noqa: ANN202
    """A function scaling meta-feature rows as fitted on the training rows ``M`` ("robust": the
    selector's own, ``features.metafeature_scaler``; the others over all training tables)."""
    from scipy.stats import norm

    from metaclust_automl.selectors.features import metafeature_scaler

    if scaling == "robust":
        return metafeature_scaler(M, names, clip=clip).transform
    if scaling == "zscore":
        mu, sd = M.mean(0), M.std(0)
        sd = np.where(sd > 1e-9, sd, 1.0)
        return lambda X: np.clip((X - mu) / sd, -clip, clip)
    srt = np.sort(M, axis=0)

    def rank(X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        r = np.stack([(np.searchsorted(srt[:, j], X[:, j], "left") + np.searchsorted(srt[:, j], X[:, j], "right")) / 2.0
                      for j in range(X.shape[1])], 1)
        return norm.ppf((r + 0.5) / (len(M) + 1))
    return rank


def _alt_scores(D: np.ndarray, P: np.ndarray, groups: np.ndarray, spec: dict) -> np.ndarray:
    """knn estimates [Q, K] from distances ``D`` [Q, T] to training tasks with rows ``P``."""
    from metaclust_automl.selectors.portfolio import share_of_best

    share, best = share_of_best(P), P.max(1)
    if not spec.get("cap") and not spec.get("lam"):  # vectorised: what the selector does, per k
        out = np.zeros((D.shape[0], P.shape[1]))
        for k in spec.get("ks", (10,)):
            nn = np.argsort(D, axis=1, kind="stable")[:, :k]
            w = 1.0 / (np.take_along_axis(D, nn, 1) + 0.05)
            w /= w.sum(1, keepdims=True)
            out += (np.einsum("qk,qkc->qc", w, share[nn]) * np.einsum("qk,qk->q", w, best[nn])[:, None]
                    / len(spec.get("ks", (10,))))
        return out
    out = np.zeros((D.shape[0], P.shape[1]))
    for q in range(D.shape[0]):
        order = np.argsort(D[q], kind="stable")
        for k in spec.get("ks", (10,)):
            if spec.get("cap"):
                seen: dict[str, int] = {}
                nn = [j for j in order if seen.setdefault(groups[j], 0) < spec["cap"]
                      and not seen.__setitem__(groups[j], seen[groups[j]] + 1)][:k]
                nn = np.array(nn)
            else:
                nn = order[:k]
            w = 1.0 / (D[q, nn] + 0.05)
            w /= w.sum()
            m = w @ share[nn]
            if spec.get("lam"):
                m = m - spec["lam"] * np.sqrt(w @ (share[nn] - m) ** 2)
            out[q] += m * float(w @ best[nn]) / len(spec.get("ks", (10,)))
    return out


def alternative_picks(kb, P: np.ndarray, G: np.ndarray, folds: list[np.ndarray], spec: dict,  # noqa: ANN001
                      inner: bool = True, left_out: np.ndarray | None = None) -> np.ndarray:
    """The configuration each held-out task gets from the knn estimate changed as ``spec`` says
    (``left_out``: tasks never used for training, e.g. a family, to measure how stable picks are)."""
    from metaclust_automl.selectors.portfolio import greedy_cover

    M = np.asarray(kb.M, dtype=np.float64)
    out = np.zeros(len(G), dtype=int)
    for test in folds:
        train = np.setdiff1d(np.arange(len(G)), test)
        if left_out is not None:
            train = np.setdiff1d(train, left_out)
        keep = np.ones(M.shape[1], dtype=bool)
        if spec.get("drop") and inner:
            tr_folds = [train[G[train] == g] for g in sorted(set(G[train]))]
            sub = {k: v for k, v in spec.items() if k != "drop"}

            def mean_with(mask: np.ndarray, sub=sub, tr_folds=tr_folds, train=train) -> float:
                got = alternative_picks(_Masked(kb, mask), P, G, tr_folds, sub, inner=False)
                return float(P[train, got[train]].mean())
            ref = mean_with(keep)
            for j in range(M.shape[1]):
                m = keep.copy()
                m[j] = False
                keep[j] = not (mean_with(m) > ref)  # dropped where leaving it out helped the training groups
        names = [n for n, k in zip(kb.metafeature_names, keep) if k]
        scale = _scaler(M[train][:, keep], names, spec.get("scaling", "robust"), spec.get("clip", 5.0))
        Z, Zq = scale(M[train][:, keep]), scale(M[test][:, keep])
        D = np.sqrt(np.maximum(((Zq[:, None, :] - Z[None]) ** 2).mean(-1), 0.0))
        S = _alt_scores(D, P[train], G[train], spec)
        cover = greedy_cover(P[train], DEFAULT_PORTFOLIO)
        pos = np.full(P.shape[1], P.shape[1])
        pos[cover] = np.arange(cover.size)
        first = pos < P.shape[1]
        for q, t in enumerate(test):
            s = S[q]
            if spec.get("tie"):
                sp = np.where(first, s, -np.inf)
                cand = np.flatnonzero(sp >= sp.max() - spec["tie"])
                out[t] = int(cand[np.argmin(pos[cand])])
            else:
                out[t] = int(np.lexsort((-s, ~first))[0])
    return out


class _Masked:
    """A knowledge base's meta-feature matrix with some columns left out (for nested importance)."""

    def __init__(self, kb, mask: np.ndarray) -> None:  # noqa: ANN001
        self.M = np.asarray(kb.M, dtype=np.float64)[:, mask]
        self.metafeature_names = [n for n, k in zip(kb.metafeature_names, mask) if k]


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


DEFAULT_PORTFOLIO = 20


def single_best(P: np.ndarray, G: np.ndarray, dev: np.ndarray, folds: list[np.ndarray]) -> dict[str, float]:
    """The configuration with the best mean ARI on the other groups, for every held-out group."""
    got = np.zeros(len(G))
    for test in folds:
        train = np.setdiff1d(np.arange(len(G)), test)
        got[test] = P[test, int(np.argmax(P[train].mean(0)))]
    return {"single_best_lofo": float(got[~dev].mean()), "single_best_lobo": float(got[dev].mean()) if dev.any() else None}


def _paired(g: np.ndarray, base: np.ndarray, G: np.ndarray, dev: np.ndarray, families: list[str]) -> dict:
    d = g - base
    fam = np.array([d[G == f].mean() for f in families])
    return {"lofo_mean_ari": float(g[~dev].mean()), "lobo_mean_ari": float(g[dev].mean()) if dev.any() else None,
            **{f"lobo_{b}": float(g[G == b].mean()) for b in BATTERIES if (G == b).any()},
            "lofo_diff": float(d[~dev].mean()), "lofo_diff_se": float(fam.std() / np.sqrt(len(fam))),
            "lobo_diff": float(d[dev].mean()) if dev.any() else None,
            "lobo_diff_se": float(d[dev].std() / np.sqrt(dev.sum())) if dev.any() else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default=None)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "selection_cv.json"))
    ap.add_argument("--no-alternatives", dest="alternatives", action="store_false",
                    help="skip ALTERNATIVES (the nested importance takes a few minutes)")
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
    alt_rows = {}
    if args.alternatives:
        alt = {name: P[np.arange(len(G)), alternative_picks(kb, P, G, folds, spec)] for name, spec in ALTERNATIVES.items()}
        if not np.array_equal(alt[ALT_BASELINE], got["knn share of best, sub-portfolio 20"]):
            print("warning: the re-implemented knn does not reproduce the selector's picks", flush=True)
        # stability: how many dev picks move when the mixed-types family (issue 19's 11 tasks,
        # never a dev dataset's neighbour) leaves the training rows
        mixed = np.flatnonzero(G == STABILITY_FAMILY)
        dev_folds = [np.flatnonzero(G == b) for b in BATTERIES if (G == b).any()]
        for name, g in alt.items():
            moved = None
            if mixed.size and dev.any():
                spec = ALTERNATIVES[name]
                a = alternative_picks(kb, P, G, dev_folds, spec)
                moved = int((a != alternative_picks(kb, P, G, dev_folds, spec, left_out=mixed))[dev].sum())
            alt_rows[name] = {"spec": {k: list(v) if isinstance(v, tuple) else v for k, v in ALTERNATIVES[name].items()},
                              **_paired(g, alt[ALT_BASELINE], G, dev, families),
                              f"dev_picks_moved_without_{STABILITY_FAMILY}": moved}
            r = alt_rows[name]
            print(f"{name:56s} LOFO {r['lofo_mean_ari']:.3f} ({r['lofo_diff']:+.3f}±{r['lofo_diff_se']:.3f})  "
                  f"LOBO {r['lobo_mean_ari'] or 0:.3f} ({r['lobo_diff'] or 0:+.3f}±{r['lobo_diff_se'] or 0:.3f})  "
                  + " ".join(f"{b} {r.get(f'lobo_{b}', 0):.3f}" for b in BATTERIES) + f"  moved {moved}", flush=True)
    summary = {"corpus_tasks": int((~dev).sum()), "families": len(families), "dev_tasks": int(dev.sum()),
               "oracle_lofo": float(P[~dev].max(1).mean()), "oracle_lobo": float(P[dev].max(1).mean()) if dev.any() else None,
               **single_best(P, G, dev, folds)}
    from metaclust_automl.atomic import write_text

    write_text(args.out, json.dumps({"knowledge_base": {"tasks": len(kb.tasks), "configs": len(kb.configs)},
                                     "summary": summary, "baseline": BASELINE, "variants": rows,
                                     "alternatives_baseline": ALT_BASELINE, "alternatives": alt_rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
