"""Benchmark: meta-feature extraction time against n, and against pymfe.

Measures ``metaclust_automl.metafeatures.extract`` on generated tables of d = 20 columns
(a mixture of five Gaussian clusters with a few skewed and discrete columns) at
n = 10k, 100k and 1M rows, after the table is in memory, and pymfe's label-free groups
(general, statistical, info-theory) on the same tables. pymfe runs in a child process
with a time limit and a memory cap; a run that hits either is reported as such. pymfe
is optional (``pip install pymfe``): without it that column is skipped, with a note.

Targets (issue 3): under 2 s at 1M x 20, and time(1M) <= 3 x time(100k).

    python bench/metafeatures.py                      # full run (a few minutes with pymfe)
    python bench/metafeatures.py --sizes 10000,100000 --no-pymfe

Writes bench/results/metafeatures.json and bench/results/metafeatures.md.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metaclust_automl.atomic import write_text  # noqa: E402

PYMFE_GROUPS = ("general", "statistical", "info-theory")
TARGET_SECONDS_1M = 2.0
TARGET_SCALING = 3.0


def make_table(n: int, d: int, seed: int) -> np.ndarray:
    """Five Gaussian clusters in d columns; two columns made skewed, one discrete."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(5, d))
    X = centers[rng.integers(0, 5, n)]
    X += rng.standard_normal((n, d))
    X[:, 0] = np.exp(X[:, 0] / 3.0)
    X[:, 1] = X[:, 1] ** 2
    X[:, 2] = np.round(X[:, 2])
    return X


def time_ours(X: np.ndarray, repeats: int, seed: int) -> dict:
    from metaclust_automl.metafeatures import base, extract

    runs, sampling = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        base.make_context(X, base.DEFAULT_SAMPLE, seed)
        sampling.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        values = extract(X, seed=seed)
        runs.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(runs), "min_s": min(runs), "runs_s": runs,
            "sampling_median_s": statistics.median(sampling), "n_features": len(values),
            "finite": bool(all(np.isfinite(v) for v in values.values()))}


def _pymfe_child(X: np.ndarray, conn, mem_bytes: int) -> None:  # noqa: ANN001
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    except (ImportError, ValueError, OSError):
        pass
    try:
        warnings.simplefilter("ignore")
        from pymfe.mfe import MFE

        t0 = time.perf_counter()
        mfe = MFE(groups=list(PYMFE_GROUPS), random_state=0)
        mfe.fit(X)
        names, _ = mfe.extract(suppress_warnings=True)
        conn.send({"seconds": time.perf_counter() - t0, "n_features": len(names)})
    except MemoryError:
        conn.send({"error": f"memory cap of {mem_bytes / 2**30:.0f} GiB exceeded"})
    except Exception as exc:  # noqa: BLE001 - report whatever pymfe raised
        conn.send({"error": f"{type(exc).__name__}: {exc}"})


def time_pymfe(X: np.ndarray, timeout: float, mem_gib: float) -> dict:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_pymfe_child, args=(X, child, int(mem_gib * 2**30)))
    t0 = time.perf_counter()
    proc.start()
    child.close()
    result = None
    if parent.poll(timeout):
        try:
            result = parent.recv()
        except EOFError:
            result = None
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if result is None:
        elapsed = time.perf_counter() - t0
        if elapsed >= timeout:
            return {"timed_out": True, "seconds": None, "limit_s": timeout,
                    "note": f"stopped after {timeout:.0f} s"}
        return {"error": f"pymfe process died (exit code {proc.exitcode})", "seconds": None}
    result.setdefault("seconds", None)
    return result


def pymfe_version() -> str | None:
    try:
        from importlib.metadata import version

        import pymfe  # noqa: F401

        return version("pymfe")
    except Exception:  # noqa: BLE001
        return None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--d", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-pymfe", action="store_true", help="skip the pymfe column")
    ap.add_argument("--pymfe-timeout", type=float, default=120.0, help="seconds per pymfe run")
    ap.add_argument("--pymfe-mem-gib", type=float, default=6.0, help="memory cap of a pymfe run")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args(argv)

    from threadpoolctl import threadpool_info

    from metaclust_automl.metafeatures import extract

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    pm_version = None if args.no_pymfe else pymfe_version()
    notes = []
    if args.no_pymfe:
        notes.append("pymfe column skipped (--no-pymfe)")
    elif pm_version is None:
        notes.append("pymfe column skipped: pymfe is not installed (pip install pymfe)")

    t0 = time.perf_counter()
    extract(make_table(500, args.d, args.seed))  # imports, plugin registry
    cold = time.perf_counter() - t0
    load_before = os.getloadavg()
    rows = []
    for n in sizes:
        X = make_table(n, args.d, args.seed)
        ours = time_ours(X, args.repeats, args.seed)
        row = {"n": n, "d": args.d, "ours": ours}
        if pm_version is not None:
            row["pymfe"] = time_pymfe(X, args.pymfe_timeout, args.pymfe_mem_gib)
        rows.append(row)
        pm = row.get("pymfe", {})
        print(f"n={n:>9,}  ours {ours['median_s']:.3f} s (sampling {ours['sampling_median_s']:.3f} s)"
              + (f"  pymfe {fmt(pm.get('seconds'))} s {pm.get('note', pm.get('error', ''))}" if pm else ""),
              flush=True)
        del X
    load_after = os.getloadavg()

    by_n = {r["n"]: r["ours"]["median_s"] for r in rows}
    checks = {}
    if 1_000_000 in by_n:
        checks["1M_under_2s"] = {"seconds": by_n[1_000_000], "target": TARGET_SECONDS_1M,
                                 "passed": by_n[1_000_000] < TARGET_SECONDS_1M}
    if 1_000_000 in by_n and 100_000 in by_n:
        ratio = by_n[1_000_000] / by_n[100_000]
        checks["1M_over_100k"] = {"ratio": ratio, "target": TARGET_SCALING, "passed": ratio <= TARGET_SCALING}

    header = ["n", "d", "metaclust (s)", "sampling pass (s)", "features", "pymfe (s)",
              "pymfe features", "pymfe / metaclust"]
    table = []
    for r in rows:
        o, pm = r["ours"], r.get("pymfe")
        if pm is None:
            pm_s, pm_f, ratio = "skipped", "-", "-"
        elif pm.get("seconds") is not None:
            pm_s, pm_f, ratio = f"{pm['seconds']:.2f}", str(pm.get("n_features", "-")), f"{pm['seconds'] / o['median_s']:.1f}x"
        elif pm.get("timed_out"):
            pm_s, pm_f, ratio = f"> {pm['limit_s']:.0f} (timeout)", "-", f"> {pm['limit_s'] / o['median_s']:.0f}x"
        else:
            pm_s, pm_f, ratio = f"failed: {pm.get('error', '?')}", "-", "-"
        table.append([f"{r['n']:,}", str(r["d"]), f"{o['median_s']:.3f}", f"{o['sampling_median_s']:.3f}",
                      str(o["n_features"]), pm_s, pm_f, ratio])

    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    print()
    print(line(header))
    for row in table:
        print(line(row))
    for name, c in checks.items():
        value = f"{c['seconds']:.3f} s" if "seconds" in c else f"{c['ratio']:.2f}x"
        print(f"{name}: {value} (target {c['target']}) -> {'PASS' if c['passed'] else 'FAIL'}")
    for note in notes:
        print(f"note: {note}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before / "
          f"{load_after[0]:.1f} after (shared machine: timings include contention)")

    blas = [{"api": i.get("internal_api"), "threads": i.get("num_threads")} for i in threadpool_info()]
    result = {
        "benchmark": "metafeatures", "sizes": sizes, "d": args.d, "repeats": args.repeats,
        "seed": args.seed, "cold_first_call_s": cold, "rows": rows, "checks": checks, "notes": notes,
        "pymfe": {"version": pm_version, "groups": list(PYMFE_GROUPS), "timeout_s": args.pymfe_timeout,
                  "memory_cap_gib": args.pymfe_mem_gib},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "load_avg_before": load_before,
                    "load_avg_after": load_after, "blas": blas},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "metafeatures.json", json.dumps(result, indent=1) + "\n")
    md = ["# Meta-feature extraction time", "",
          f"`python bench/metafeatures.py` on {os.cpu_count()} CPUs (load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; the machine is shared, so "
          "timings include contention). metaclust: median of "
          f"{args.repeats} runs of `extract(X)` (default sample_size 2000) after loading; "
          "'sampling pass' is the one pass over all rows that draws the samples. "
          f"pymfe {pm_version or '(not run)'}: groups {', '.join(PYMFE_GROUPS)}, one run, "
          f"limit {args.pymfe_timeout:.0f} s and {args.pymfe_mem_gib:.0f} GiB.", "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in table]
    md.append("")
    for name, c in checks.items():
        value = f"{c['seconds']:.3f} s" if "seconds" in c else f"{c['ratio']:.2f}x"
        md.append(f"- {name}: {value} (target {c['target']}): {'PASS' if c['passed'] else 'FAIL'}")
    md += [f"- note: {n}" for n in notes]
    md.append(f"- first call in a fresh process (imports, plugin registry, 500 rows): {cold:.2f} s")
    write_text(out / "metafeatures.md", "\n".join(md) + "\n")
    print(f"wrote {out / 'metafeatures.json'} and {out / 'metafeatures.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
