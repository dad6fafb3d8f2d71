"""`recommend --kb OWN` right after `meta-train`: does it cost what the shipped one costs?

Issue 18: after `metaclust meta-train ... -o my_kb` every `recommend --kb my_kb` refitted
the maml selector (46-57 s a call). meta-train now trains its selectors into
`my_kb/selectors/`, which recommend reads. Target: `recommend --kb OWN` costs at most 2x
`recommend` with the shipped knowledge base.

The knowledge base is meta-trained on a few tasks of the built-in (generated) corpus; the
table is `metaclust example` (1,000 rows). Each command runs in a fresh process,
``--repeats`` times; the median is reported. For reference, the cost before the change
is measured too: the same knowledge base with its `selectors/` removed (so maml is
fitted on the call, as before).

    python bench/own_kb.py            # writes bench/results/own_kb.json and .md
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0


def metaclust(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "metaclust_automl", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"metaclust {' '.join(map(str, args))} failed: {proc.stderr.strip()[-500:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=6, help="built-in corpus tasks to meta-train on")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--portfolio-size", type=int, default=12)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        table = t / "table.csv"
        metaclust("example", table, "--rows", "1000")
        kb = t / "own_kb"
        train_s = metaclust("meta-train", "--limit", args.limit, "--trials", args.trials, "--portfolio-size",
                            args.portfolio_size, "-o", kb, "--no-progress")
        assert (kb / "selectors" / "maml").is_dir(), "meta-train left no maml selector"
        shipped = [metaclust("recommend", table, "--no-progress") for _ in range(args.repeats)]
        own = [metaclust("recommend", table, "--kb", kb, "--no-progress") for _ in range(args.repeats)]
        bare = t / "bare_kb"
        shutil.copytree(kb, bare, ignore=shutil.ignore_patterns("selectors"))
        before = [metaclust("recommend", table, "--kb", bare, "--no-progress")]  # once: it is slow
    ratio = statistics.median(own) / statistics.median(shipped)
    load = os.getloadavg()[0]
    out = {"cpus": os.cpu_count(), "load_1min": round(load, 1), "repeats": args.repeats,
           "meta_train": {"limit": args.limit, "trials": args.trials, "portfolio_size": args.portfolio_size,
                          "seconds_with_selectors": round(train_s, 1)},
           "recommend_shipped_s": [round(x, 2) for x in shipped], "recommend_own_s": [round(x, 2) for x in own],
           "recommend_own_without_selectors_s": [round(x, 2) for x in before],
           "ratio_own_over_shipped": round(ratio, 2), "target_ratio": TARGET_RATIO, "met": ratio <= TARGET_RATIO}
    lines = ["# recommend --kb OWN right after meta-train", "",
             f"{os.cpu_count()} CPUs, 1-min load average {load:.1f} at the end (a shared machine: times are "
             f"under load). Table: `metaclust example`, 1,000 rows. Knowledge base: `meta-train --limit "
             f"{args.limit} --trials {args.trials} --portfolio-size {args.portfolio_size}` "
             f"({train_s:.0f} s including its selectors).", "",
             "| command | median wall (s) | runs (s) |", "|---|---:|---|",
             f"| `recommend TABLE` (shipped knowledge base) | {statistics.median(shipped):.2f} | "
             f"{', '.join(f'{x:.2f}' for x in shipped)} |",
             f"| `recommend TABLE --kb OWN` (after meta-train) | {statistics.median(own):.2f} | "
             f"{', '.join(f'{x:.2f}' for x in own)} |",
             f"| `recommend TABLE --kb OWN` without OWN/selectors (as before the change) | {before[0]:.2f} | "
             f"{before[0]:.2f} |", "",
             f"Ratio own / shipped: **{ratio:.2f}** (target at most {TARGET_RATIO:g}: "
             f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})."]
    print("\n".join(lines))
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "own_kb.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    (results / "own_kb.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
