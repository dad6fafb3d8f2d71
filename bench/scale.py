"""Time and peak memory of ``metaclust cluster`` and ``metaclust recommend`` on generated
tables of 10k, 100k, 1M and 2M rows x 20 columns.

Targets (issue 9): peak memory under 4 GB at 2M rows, and cost growing at most linearly
from 100k to 2M rows: the linearity ratio (time(2M) / time(100k)) / 20 is at most 1.

Each measurement runs the real command line in a fresh process; its peak resident memory
is read from the kernel when it ends (``os.wait4``), so it counts everything the process
touched: Python, the libraries, the table, the clustering. The CSVs (full float64
precision, ~750 MB at 2M rows) are written to a temporary directory and deleted after.

    python bench/scale.py                       # all sizes: load, cluster (kmeans hdbscan dbscan
                                                # agglomerative), recommend
    python bench/scale.py --sizes 10000,100000  # a quick look
    python bench/scale.py --commands recommend  # recommend only (--budget N: with N probes)
    python bench/scale.py --algorithms kmeans,gmm --timeout 600

Writes bench/results/scale.json and bench/results/scale.md (``--name`` changes the stem).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from metaclust_automl.atomic import write_text  # noqa: E402

DEFAULT_SIZES = (10_000, 100_000, 1_000_000, 2_000_000)
DEFAULT_ALGORITHMS = ("kmeans", "hdbscan", "dbscan", "agglomerative")
COMMANDS = ("load", "cluster", "recommend")
MEMORY_TARGET_MB = 4000.0


def make_csv(path: Path, n: int, d: int, seed: int = 0) -> np.ndarray:
    """Eight Gaussian blobs of different spreads plus 2% uniform noise, written in blocks;
    returns the true labels (noise = -1)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-20, 20, size=(8, d))
    spreads = rng.uniform(0.5, 3.0, size=8)
    names = [f"x{j}" for j in range(d)]
    truth = np.empty(n, dtype=np.int64)
    with pacsv.CSVWriter(str(path), pa.schema([(c, pa.float64()) for c in names])) as writer:
        for start in range(0, n, 250_000):
            m = min(250_000, n - start)
            lab = rng.integers(0, 8, size=m)
            X = centres[lab] + rng.normal(size=(m, d)) * spreads[lab, None]
            noise = rng.random(m) < 0.02
            X[noise] = rng.uniform(-30, 30, size=(int(noise.sum()), d))
            truth[start:start + m] = np.where(noise, -1, lab)
            writer.write_table(pa.table({c: X[:, j] for j, c in enumerate(names)}))
    return truth


def measure(cmd: list[str], timeout: float, cwd: Path) -> dict:
    """Run ``cmd`` in a fresh process; wall time, peak RSS (MB), exit code, output."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               COLUMNS="200")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "rc": proc.returncode, "timed_out": timed_out.is_set(),
            "stdout": stdout, "stderr": stderr}


def last_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("error", "internal error"))]
    return (errors or lines or [""])[-1][:200]


def run_all(sizes: list[int], algorithms: list[str], d: int, timeout: float,
            commands: list[str], budget: int = 0) -> list[dict]:
    py = [sys.executable, "-m", "metaclust_automl"]
    rows: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="metaclust-scale-"))
    try:
        for n in sizes:
            data = tmp / f"table_{n}.csv"
            t0 = time.perf_counter()
            truth = make_csv(data, n, d)
            print(f"\n{n:,} x {d}: {data.stat().st_size / 1e6:.0f} MB CSV written in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            jobs: list[tuple[str, list[str]]] = []
            if "load" in commands:
                jobs.append(("load", [sys.executable, "-c",
                                      "import sys; from metaclust_automl.loading import load_table; "
                                      "t = load_table(sys.argv[1]); print(t.X.shape)", str(data)]))
            if "cluster" in commands:
                # the product path first: no --algorithm, the default selector's top choice
                jobs.append(("cluster (recommended)", py + ["cluster", str(data), "-o", str(tmp / "labels.csv"),
                                                            "--json"]))
                jobs += [(f"cluster {a}", py + ["cluster", str(data), "-a", a, "-o", str(tmp / "labels.csv"),
                                                 "--json"]) for a in algorithms]
            if "recommend" in commands:
                name = "recommend" + (f" --budget {budget}" if budget else "")
                jobs.append((name, py + ["recommend", str(data), "--json", "--budget", str(budget)]))
            for name, cmd in jobs:
                r = measure(cmd, timeout, tmp)
                row = {"rows": n, "cols": d, "command": name, "wall_s": r["wall_s"],
                       "peak_rss_mb": r["peak_rss_mb"], "ok": r["rc"] == 0 and not r["timed_out"],
                       "timed_out": r["timed_out"]}
                if name.startswith("cluster") and row["ok"]:
                    try:
                        report = json.loads(r["stdout"])
                        row.update(fit_s=report.get("seconds"), n_clusters=report.get("n_clusters"),
                                   notes=report.get("notes", []))
                        labels = np.loadtxt(tmp / "labels.csv", dtype=np.int64, skiprows=1, ndmin=1)
                        row["labels_written"] = int(labels.size)
                        row["ok"] = labels.size == n
                        if row["ok"]:
                            from sklearn.metrics import adjusted_rand_score

                            row["ari"] = round(float(adjusted_rand_score(truth, labels)), 3)
                    except (ValueError, OSError) as exc:
                        row.update(ok=False, error=f"unreadable output: {exc}")
                if name.startswith("recommend") and row["ok"]:
                    try:
                        ranked = json.loads(r["stdout"])
                        row["choice"] = f"{ranked[0]['algorithm']} {ranked[0]['config_id']}"
                    except (ValueError, LookupError, TypeError) as exc:
                        row.update(ok=False, error=f"unreadable output: {exc}")
                if not row["ok"] and "error" not in row:
                    row["error"] = "timed out" if r["timed_out"] else last_error(r["stderr"])
                rows.append(row)
                extra = f" fit {row['fit_s']:.1f} s" if row.get("fit_s") is not None else ""
                extra += f" ARI {row['ari']:.3f}" if row.get("ari") is not None else ""
                extra += f" chose {row['choice']}" if row.get("choice") else ""
                status = "ok" if row["ok"] else f"FAILED: {row.get('error', '')}"
                print(f"  {name:<24} {row['wall_s']:>8.1f} s  {row['peak_rss_mb']:>8.0f} MB{extra}  {status}",
                      flush=True)
                (tmp / "labels.csv").unlink(missing_ok=True)
            data.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def summarise(rows: list[dict], sizes: list[int]) -> list[dict]:
    """Per command: growth of time from 100k to 2M and the peak memory at the largest size."""
    out = []
    lo, hi = (100_000, 2_000_000) if {100_000, 2_000_000} <= set(sizes) else (min(sizes), max(sizes))
    if lo == hi:
        return out
    for command in dict.fromkeys(r["command"] for r in rows):
        by_n = {r["rows"]: r for r in rows if r["command"] == command}
        if lo not in by_n or hi not in by_n:
            continue
        a, b = by_n[lo], by_n[hi]
        both_ok = a["ok"] and b["ok"]
        ratio = b["wall_s"] / a["wall_s"] if both_ok and a["wall_s"] > 0 else None
        out.append({
            "command": command, "from_rows": lo, "to_rows": hi, "rows_ratio": hi / lo,
            "time_ratio": None if ratio is None else round(ratio, 2),
            # (time ratio) / (rows ratio): 1 = linear, below 1 = better than linear
            "linearity": None if ratio is None else round(ratio / (hi / lo), 3),
            "at_most_linear": None if ratio is None else bool(ratio <= hi / lo),
            "peak_rss_mb_at_largest": b["peak_rss_mb"],
            "memory_under_4gb": bool(b["ok"] and b["peak_rss_mb"] < MEMORY_TARGET_MB),
        })
    return out


def markdown(rows: list[dict], summary: list[dict], meta: dict) -> str:
    lines = ["# Scale benchmark: `metaclust cluster` / `recommend` on n x 20 tables", "",
             f"Machine: {meta['machine']}; load average at start {meta['load_start']}, "
             f"at end {meta['load_end']}; OMP_NUM_THREADS={meta['omp_threads']}.", "",
             "Each row is one fresh process (the real CLI); peak memory is its maximum resident "
             "set size from the kernel. `fit s` is the backend's own time (fit + assignment); "
             "ARI compares the labels with the generating blobs (noise rows as one class), a check "
             "that fitting on a sample and assigning the rest keeps the answer.", "",
             "`recommend` (default selector, shipped knowledge base) prints the ranked "
             "configurations without running them on the whole table; `choice` is its top one.", "",
             "| rows | command | wall s | peak MB | fit s | clusters | ARI | choice | result |",
             "|---:|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        fit = f"{r['fit_s']:.1f}" if r.get("fit_s") is not None else ""
        res = "ok" if r["ok"] else f"failed: {r.get('error', '')}"
        lines.append(f"| {r['rows']:,} | {r['command']} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | "
                     f"{fit} | {r.get('n_clusters', '')} | {r.get('ari', '')} | {r.get('choice', '')} | {res} |")
    lines += ["", "## Targets", "",
              "Linearity = (time at the largest size / time at the reference size) / (rows ratio); "
              "at most 1 means the cost grows at most linearly.", "",
              "| command | rows | time ratio | rows ratio | linearity | at most linear | peak MB at largest | "
              "under 4 GB |",
              "|---|---|---:|---:|---:|---|---:|---|"]
    for s in summary:
        lines.append(f"| {s['command']} | {s['from_rows']:,} -> {s['to_rows']:,} | {s['time_ratio']} | "
                     f"{s['rows_ratio']:.0f} | {s['linearity']} | {s['at_most_linear']} | "
                     f"{s['peak_rss_mb_at_largest']:.0f} | {s['memory_under_4gb']} |")
    notes = sorted({n for r in rows for n in r.get("notes", [])})
    if notes:
        lines += ["", "## Sampling notes printed by the CLI", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS),
                        help="backends that `cluster -a` runs")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help=f"which of {', '.join(COMMANDS)} to measure (comma-separated)")
    parser.add_argument("--budget", type=int, default=0, help="probes for `recommend --budget`")
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--name", default="scale", help="results go to OUT/NAME.json and OUT/NAME.md")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = sorted(set(commands) - set(COMMANDS))
    if unknown or not commands or not sizes:
        parser.error(f"--commands takes some of {', '.join(COMMANDS)} (got {args.commands!r}); "
                     "--sizes at least one size")
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "load_start": [round(x, 2) for x in os.getloadavg()],
            "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "sizes": sizes, "dim": args.dim, "algorithms": algorithms, "commands": commands,
            "budget": args.budget}
    t0 = time.perf_counter()
    rows = run_all(sizes, algorithms, args.dim, args.timeout, commands, args.budget)
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["total_s"] = round(time.perf_counter() - t0, 1)
    summary = summarise(rows, sizes)
    print("\n" + markdown(rows, summary, meta))
    for item in summary:
        if item["linearity"] is not None:
            print(f"linearity of {item['command']}: time({item['to_rows']:,}) / time({item['from_rows']:,}) = "
                  f"{item['time_ratio']}, / {item['rows_ratio']:.0f} (rows ratio) = {item['linearity']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / f"{args.name}.json", json.dumps({"meta": meta, "rows": rows, "summary": summary},
                                                     indent=1))
    write_text(out / f"{args.name}.md", markdown(rows, summary, meta))
    print(f"wrote {out / (args.name + '.json')} and {out / (args.name + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
