"""What a change of the knowledge base does to the selector's choices, offline (no clustering run).

Issue 19 extended the shipped knowledge base with the mixed-types corpus family (and the
column-type meta-features). A numeric table must keep its quality, so this compares two
knowledge bases, OLD and NEW, on the rows they both hold:

- dev datasets, leave-one-battery-out (as ``bench/lobo_offline.py``): the selector fitted on
  the knowledge base without the battery picks a configuration for each dataset from its
  stored meta-features; the score is that configuration's stored ARI. Reported: mean ARI with
  OLD and with NEW, and every dataset whose pick changed.
- generated corpus, leave-one-family-out: the same for every task of each family, the family
  held out whole (mixed-types exists in NEW only; it is scored with and without its family).

The configurations are matched by their key, so OLD and NEW may order them differently.

    python bench/kb_change.py --old build/kb-old --new metaclust_automl/data/kb [--selectors knn,maml]
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


def choices(kb, selector: str, hold: str) -> dict[str, tuple[str, float]]:
    """Leave-one-group-out pick and its stored ARI for every task: ``hold`` = battery (dev
    tasks only) or family (generated tasks only)."""
    from metaclust_automl.plugins import get_registry
    from metaclust_automl.selectors.base import Query
    from metaclust_automl.selectors.features import performance

    P = performance(kb)
    keys = [c.key() if hasattr(c, "key") else json.dumps([c.algorithm, c.params], sort_keys=True) for c in kb.configs]
    groups = [t.group for t in kb.tasks]
    wanted = sorted({g for g in groups if (g in BATTERIES) == (hold == "battery")})
    out = {}
    for g in wanted:
        test = [i for i, x in enumerate(groups) if x == g]
        sel = get_registry().selector(selector)().fit(kb.subset([i for i, x in enumerate(groups) if x != g]))
        for t in test:
            s = np.asarray(sel.predict_scores(Query(metafeatures=kb.M[t], budget=0, seed=0)), dtype=np.float64)
            c = int(np.argmax(s))
            out[kb.tasks[t].id] = (keys[c], float(P[t, c]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--selectors", default="knn")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "kb_change.json"))
    args = ap.parse_args(argv)
    from metaclust_automl.knowledge_base import KnowledgeBase

    old, new = KnowledgeBase.load(args.old), KnowledgeBase.load(args.new)
    report: dict = {"old": {"tasks": len(old.tasks), "configs": len(old.configs), "metafeatures": len(old.metafeature_names)},
                    "new": {"tasks": len(new.tasks), "configs": len(new.configs), "metafeatures": len(new.metafeature_names)}}
    for name in args.selectors.split(","):
        for hold in ("battery", "family"):
            a, b = choices(old, name, hold), choices(new, name, hold)
            both = sorted(set(a) & set(b))
            by_group: dict[str, dict[str, list[float]]] = {}
            for t in sorted(set(a) | set(b)):
                g = t.split("/")[0] if hold == "battery" else next(x.group for x in new.tasks if x.id == t) if t in b \
                    else next(x.group for x in old.tasks if x.id == t)
                d = by_group.setdefault(g, {"old": [], "new": []})
                if t in a:
                    d["old"].append(a[t][1])
                if t in b:
                    d["new"].append(b[t][1])
            changed = {t: {"old": a[t], "new": b[t]} for t in both if a[t][0] != b[t][0]}
            entry = {
                "mean_ari_old_shared": float(np.mean([a[t][1] for t in both])),
                "mean_ari_new_shared": float(np.mean([b[t][1] for t in both])),
                "tasks_shared": len(both), "picks_changed": len(changed), "changed": changed,
                "by_group": {g: {k: (float(np.mean(v)) if v else None) for k, v in d.items()} for g, d in by_group.items()},
            }
            report[f"{name}, leave one {hold} out"] = entry
            print(f"{name}, leave one {hold} out: {len(both)} shared tasks, mean ARI old {entry['mean_ari_old_shared']:.4f} "
                  f"new {entry['mean_ari_new_shared']:.4f}, {len(changed)} picks changed", flush=True)
            for t, v in changed.items():
                print(f"   {t}: {v['old'][1]:.3f} -> {v['new'][1]:.3f}   {v['old'][0]} -> {v['new'][0]}")
            for g, v in entry["by_group"].items():
                if v["old"] is None or (v["new"] is not None and abs(v["new"] - v["old"]) > 1e-12):
                    print(f"   group {g}: old {v['old']} new {v['new']}")
    from metaclust_automl.atomic import write_text

    write_text(args.out, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
