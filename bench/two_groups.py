"""Two overlapping Gaussian groups through `metaclust cluster`: the kind of table the structure test
used to call structureless (issue 16: 18 of the 48 held-out tables are two-group mixtures).

Generates 16 tables here (nothing is read from ../shared): 1,000 rows, two unit-covariance
Gaussian groups of random sizes whose means are ``delta`` apart along a random direction, in
d = 2, 8, 32 and 64 columns, delta = 1.5, 2.5, 3.5 and 5 (seeded). Each is written as a plain
CSV without labels and run through ``metaclust cluster DATA -o labels.csv`` in a new process
with default options, from this checkout and, with ``--against DIR``, from another checkout
(e.g. a worktree of an earlier commit), next to KMeans with the true k = 2 (standardised
columns) as a reference. Nothing here chose a setting: the structure test's mixture statistic
was chosen on the corpus (``trust/structure.py``). Results: bench/results/two_groups.{json,md}.

    python bench/two_groups.py [--against DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DIMS = (2, 8, 32, 64)
DELTAS = (1.5, 2.5, 3.5, 5.0)
ROWS = 1000
SEED = 20261204


def tables() -> list[tuple[int, float, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(SEED)
    out = []
    for d in DIMS:
        for delta in DELTAS:
            y = (rng.random(ROWS) < rng.uniform(0.3, 0.7)).astype(np.int64)
            u = rng.normal(size=d)
            u /= np.linalg.norm(u)
            out.append((d, delta, rng.normal(size=(ROWS, d)) + np.outer(y, u) * delta, y))
    return out


def cli(repo: Path, path: Path, out: Path) -> tuple[np.ndarray, str]:
    """``metaclust cluster`` in a new process run from ``repo`` (``python -m`` imports that checkout)."""
    proc = subprocess.run([sys.executable, "-m", "metaclust_automl", "cluster", str(path), "-o", str(out), "--json"],
                          capture_output=True, text=True, cwd=repo)
    if proc.returncode != 0:
        raise SystemExit(f"metaclust cluster failed in {repo}: {proc.stderr.strip().splitlines()[-1:]}")
    return np.loadtxt(out, skiprows=1, dtype=np.int64), json.loads(proc.stdout)["algorithm"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default=None, help="another checkout to run the same CLI command from")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    from sklearn.cluster import KMeans

    from metaclust_automl.atomic import write_text
    from metaclust_automl.metrics import ari

    runs = {"this": REPO} | ({"against": Path(args.against).resolve()} if args.against else {})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d, delta, X, y in tables():
            path = Path(tmp) / f"d{d}-delta{delta}.csv"
            np.savetxt(path, X, delimiter=",", header=",".join(f"x{i}" for i in range(d)), comments="")
            Z = (X - X.mean(0)) / X.std(0)
            row = {"d": d, "delta": delta,
                   "kmeans_k2_ari": float(ari(y, KMeans(2, n_init=4, random_state=0).fit_predict(Z)))}
            for name, repo in runs.items():
                labels, algorithm = cli(repo, path, Path(tmp) / f"labels-{name}.csv")
                row[f"{name}_ari"], row[f"{name}_algorithm"] = float(ari(y, labels)), algorithm
            rows.append(row)
            print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k.endswith("_ari")}
    lines = ["# Two overlapping Gaussian groups through `metaclust cluster` (bench/two_groups.py)", "",
             f"16 generated tables, {ROWS} rows, seed {SEED}; this checkout"
             + (f" and `{args.against}`" if args.against else "") + "; measured only.", "",
             "| d | delta | " + " | ".join(f"{n} ARI | {n} ran" for n in runs) + " | KMeans k=2 ARI |",
             "|---:|---:|" + "---:|---|" * len(runs) + "---:|"]
    for r in rows:
        lines.append(f"| {r['d']} | {r['delta']} | " + " | ".join(f"{r[n + '_ari']:.3f} | {r[n + '_algorithm']}" for n in runs)
                     + f" | {r['kmeans_k2_ari']:.3f} |")
    cells = ["**mean**", ""] + [c for n in runs for c in (f"**{mean[n + '_ari']:.3f}**", "")]
    lines.append("| " + " | ".join(cells + [f"**{mean['kmeans_k2_ari']:.3f}**"]) + " |")
    out = Path(args.out)
    write_text(out / "two_groups.md", "\n".join(lines) + "\n")
    write_text(out / "two_groups.json", json.dumps({"rows": rows, "mean": mean, "against": args.against}, indent=1) + "\n")
    print({k: round(v, 3) for k, v in mean.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
