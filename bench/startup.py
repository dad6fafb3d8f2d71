"""What starting a command costs: wall time and the heavy modules it imports.

Issue 18: `metaclust plugins` took 6 s on a loaded machine, and every command imported
scikit-learn whether it used it or not. The target is that nothing heavy is imported that
a command does not use: `plugins` and `--help` import neither scikit-learn, pandas, torch
nor optuna; `cluster -a kmeans` imports scikit-learn (it runs KMeans) but not torch.

Each command runs in a fresh process, ``--repeats`` times (the median is reported), on a
generated 150-row table; one more run with ``python -X importtime`` lists which heavy
packages were imported and their cumulative import time.

    python bench/startup.py                 # writes bench/results/startup.json and .md
    python bench/startup.py --name before   # e.g. measured on the commit before a change
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "pandas", "torch", "optuna", "matplotlib", "scipy", "hdbscan", "pyarrow", "pyod")


def commands(table: str) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "plugins": ["plugins"],
        "cluster -a kmeans (150 rows)": ["cluster", table, "-a", "kmeans"],
        "cluster (recommended, 150 rows)": ["cluster", table],
    }


def run_once(args: list[str], importtime: bool = False) -> tuple[float, str]:
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + ["-m", "metaclust_automl", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return seconds, proc.stderr


def heavy_imports(stderr: str) -> dict[str, float]:
    """Top-level heavy packages imported, with their cumulative import time (s)."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        name = parts[2].strip()
        if name in HEAVY:
            try:
                found[name] = max(found.get(name, 0.0), int(parts[1]) / 1e6)
            except ValueError:
                continue
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--name", default="startup")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = str(Path(tmp) / "table.csv")
        run_once(["example", table, "--rows", "150"])
        for label, argv in commands(table).items():
            walls = [run_once(argv)[0] for _ in range(args.repeats)]
            _, err = run_once(argv, importtime=True)
            rows.append({"command": label, "median_s": round(statistics.median(walls), 2),
                         "runs_s": [round(w, 2) for w in walls], "heavy_imports_s": heavy_imports(err)})
    load = os.getloadavg()[0]
    out = {"cpus": os.cpu_count(), "load_1min": round(load, 1), "repeats": args.repeats, "rows": rows}
    lines = [f"# Command start-up ({args.name})", "",
             f"{os.cpu_count()} CPUs, 1-min load average {load:.1f} at the end (a shared machine: "
             "times are under load); median of "
             f"{args.repeats} fresh processes per command.", "",
             "| command | median wall (s) | heavy packages imported (cumulative import s) |",
             "|---|---:|---|"]
    for r in rows:
        heavy = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["heavy_imports_s"].items())) or "none"
        lines.append(f"| `metaclust {r['command']}` | {r['median_s']:.2f} | {heavy} |")
    print("\n".join(lines))
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    (results / f"{args.name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
