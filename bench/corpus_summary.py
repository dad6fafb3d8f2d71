"""Composition of the built-in corpus, and how long generating all of it takes.

    python bench/corpus_summary.py [--families F ...]

Prints one row per family (tasks, rows, columns, clusters, noise share, generation time)
and writes bench/results/corpus_summary.json and .md. Needs no external data.
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

from metaclust_automl.atomic import write_text  # noqa: E402
from metaclust_automl.corpus import builtin_families, builtin_task_ids, load_builtin_task, task_spec  # noqa: E402


def summarise(families: list[str] | None) -> tuple[list[dict], dict]:
    t0 = time.perf_counter()
    ids = builtin_task_ids(families=families)
    t_ids = time.perf_counter() - t0
    rows: dict[str, dict] = {}
    t_all = time.perf_counter()
    for tid in ids:
        t1 = time.perf_counter()
        task = load_builtin_task(tid)
        dt = time.perf_counter() - t1
        fam = task.group
        r = rows.setdefault(fam, {"family": fam, "kind": task_spec(tid)["kind"], "tasks": 0, "n": [], "d": [],
                                  "k": [], "noise": [], "seconds": 0.0})
        r["tasks"] += 1
        r["n"].append(task.X.shape[0])
        r["d"].append(task.X.shape[1])
        r["k"].append(task.n_classes)
        r["noise"].append(float(np.mean(task.y == -1)))
        r["seconds"] += dt
    t_all = time.perf_counter() - t_all
    out = []
    for fam in builtin_families():
        if fam not in rows:
            continue
        r = rows[fam]
        out.append({"family": fam, "kind": r["kind"], "tasks": r["tasks"],
                    "n_min": min(r["n"]), "n_median": int(np.median(r["n"])), "n_max": max(r["n"]),
                    "d_min": min(r["d"]), "d_max": max(r["d"]), "k_min": min(r["k"]), "k_max": max(r["k"]),
                    "noise_max": round(max(r["noise"]), 3), "seconds": round(r["seconds"], 3)})
    all_n = [n for r in rows.values() for n in r["n"]]
    total = {"tasks": len(ids), "families": len(out), "rows_total": int(sum(all_n)),
             "n_median": int(np.median(all_n)), "share_n_le_2000": round(float(np.mean(np.array(all_n) <= 2000)), 3),
             "seconds_list_ids": round(t_ids, 3), "seconds_generate_all": round(t_all, 3)}
    return out, total


def markdown(rows: list[dict], total: dict) -> str:
    cols = ["family", "kind", "tasks", "n_min", "n_median", "n_max", "d_min", "d_max", "k_min", "k_max",
            "noise_max", "seconds"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    lines.append("")
    lines.append(f"{total['tasks']} tasks in {total['families']} families, {total['rows_total']} rows in all "
                 f"(median n {total['n_median']}, {100 * total['share_n_le_2000']:.0f}% with n <= 2000); "
                 f"listing ids {total['seconds_list_ids']} s, generating every task {total['seconds_generate_all']} s.")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="*", default=None, help="only these families (or synthetic / real)")
    args = ap.parse_args()
    rows, total = summarise(args.families)
    text = markdown(rows, total)
    print(text, end="")
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    write_text(results / "corpus_summary.json", json.dumps({"families": rows, "total": total}, indent=2) + "\n")
    write_text(results / "corpus_summary.md", "# Built-in corpus composition\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
