"""What the whole ``metaclust cluster`` process costs on the 46 dev datasets, and what it writes.

Issue 16's cost line counts the whole process (start-up, imports, structure test, probes,
final run, confidence re-runs). This bench runs ``metaclust cluster DATA -o labels.csv --json``
in a new process with default options on every dev dataset, leave-one-battery-out exactly as
bench/quality.py's ``cli_cluster`` does (a knowledge base without the dataset's battery and the
default selector refitted on it, passed with ``--kb``), and records per dataset:

- wall seconds and CPU seconds (user+sys of the child process), and the load average before
  the run (the machine is shared: CPU seconds are the comparable number);
- a SHA-256 of the labels file, the configuration run, the structure verdict and the
  confidence, so that a change meant to cut cost can be checked to change no output.

``--compare OTHER.json`` adds, per dataset, whether the labels hash equals OTHER's.
``--against DIR`` runs, for every dataset, the same command also from another checkout (e.g.
``git archive main | tar -x -C DIR``) right next to this one, in alternating order, so that
the two are measured under the same load; its rows are the comparison. The
leave-one-battery-out knowledge bases are written once to ``--lobo-dir`` and reused, so a
before/after pair runs on byte-identical knowledge bases. Nothing here chose a setting.

    python bench/cli_cost.py --name cli_cost_before
    python bench/cli_cost.py --name cli_cost --compare bench/results/cli_cost_before.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from quality import cluster_process, dataset_root, lobo_kbs  # noqa: E402


def run_cli(path: str, kb: str | None, repo: Path = REPO) -> dict:
    """One ``metaclust cluster PATH -o labels.csv --json`` in a new process run from ``repo``
    (``quality.cluster_process``), with the load average before it and what it wrote."""
    load = os.getloadavg()[0]
    r = cluster_process(path, kb, repo)
    row = {"seconds": round(r["seconds"], 3), "cpu_seconds": round(r["cpu_seconds"], 3),
           "load_average_before": round(load, 2)}
    if "error" in r:
        return {**row, "error": r["error"]}
    info = r["info"]
    row["labels_sha256"] = hashlib.sha256(r["labels_file"]).hexdigest()
    row["choice"] = f"{info.get('algorithm', '')} {json.dumps(info.get('params', {}), sort_keys=True)}"
    row["n_clusters"] = info.get("n_clusters")
    s = info.get("structure") or {}
    row["structure"] = {k: s.get(k) for k in ("has_structure", "certainty") if k in s}
    row["confidence"] = info.get("confidence")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lobo-dir", default=str(Path(tempfile.gettempdir()) / "metaclust-cli-cost-lobo"),
                    help="where the leave-one-battery-out knowledge bases are written once and reused")
    ap.add_argument("--limit", type=int, default=0, help="only the first N datasets (smoke runs)")
    ap.add_argument("--only", default="", help="comma-separated dataset ids (e.g. sipu/flame)")
    ap.add_argument("--compare", default=None, help="an earlier result of this bench: labels identical?")
    ap.add_argument("--against", default=None, help="another checkout run next to this one on each dataset")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    ap.add_argument("--name", default="cli_cost", help="results file stem")
    args = ap.parse_args(argv)
    root = dataset_root()
    if root is None:
        print("bench/cli_cost.py: datasets not found (set METACLUST_DATASETS or provide "
              "../shared/datasets/clustering); skipping")
        return 0
    from metaclust_automl.corpus import load_directory
    from metaclust_automl.knowledge_base import load_default
    from metaclust_automl.selectors.state import kb_fingerprint

    tasks = load_directory(root)
    if args.only:
        keep = set(args.only.split(","))
        tasks = [t for t in tasks if t.id in keep]
    if args.limit:
        tasks = tasks[: args.limit]
    kb = load_default()
    batteries = sorted({t.id.split("/")[0] for t in load_directory(root)})
    lobo_dir = Path(args.lobo_dir)
    if all((lobo_dir / b / "selectors").is_dir() for b in batteries):
        lobo = {b: str(lobo_dir / b) for b in batteries}
        print(f"reusing the leave-one-battery-out knowledge bases in {lobo_dir}", flush=True)
    else:
        lobo_dir.mkdir(parents=True, exist_ok=True)
        lobo = lobo_kbs(kb, set(batteries), lobo_dir)
    other = {}
    if args.compare:
        other = {r["dataset"]: r for r in json.loads(Path(args.compare).read_text())["rows"]}
    rows = []
    for i, t in enumerate(tasks):
        bat = t.id.split("/")[0]
        if args.against:
            first = i % 2 == 0  # alternate which runs first: drift in load hits both alike
            if first:
                base = run_cli(str(t.source), lobo[bat], Path(args.against))
            r = {"dataset": t.id, "n": int(t.X.shape[0]), "d": int(t.X.shape[1]), **run_cli(str(t.source), lobo[bat])}
            if not first:
                base = run_cli(str(t.source), lobo[bat], Path(args.against))
            other[t.id] = {"dataset": t.id, **base}
        else:
            r = {"dataset": t.id, "n": int(t.X.shape[0]), "d": int(t.X.shape[1]), **run_cli(str(t.source), lobo[bat])}
        if t.id in other:
            r["labels_identical"] = r.get("labels_sha256") == other[t.id].get("labels_sha256")
        rows.append(r)
        print(f"{t.id:26s} n={r['n']:6d} {r['seconds']:6.2f}s cpu {r['cpu_seconds']:6.2f}s "
              f"load {r['load_average_before']:.2f} {r.get('labels_sha256', r.get('error', ''))[:12]} "
              + (f"same={r['labels_identical']} " if "labels_identical" in r else "")
              + (f"(other cpu {other[t.id]['cpu_seconds']:.2f}s) " if t.id in other else "") + r.get("choice", "")[:50],
              flush=True)
    summary = {"datasets": len(rows), "wall_seconds_total": round(sum(r["seconds"] for r in rows), 2),
               "cpu_seconds_total": round(sum(r["cpu_seconds"] for r in rows), 2),
               "load_average_mean": round(sum(r["load_average_before"] for r in rows) / max(len(rows), 1), 2),
               "errors": sum("error" in r for r in rows)}
    if other:
        summary["compared_with"] = args.compare or f"{args.against} (run alongside)"
        summary["labels_identical"] = sum(bool(r.get("labels_identical")) for r in rows)
        summary["labels_differ"] = [r["dataset"] for r in rows if not r.get("labels_identical")]
        summary["other_cpu_seconds_total"] = round(sum(other[r["dataset"]]["cpu_seconds"] for r in rows
                                                       if r["dataset"] in other), 2)
        summary["other_wall_seconds_total"] = round(sum(other[r["dataset"]]["seconds"] for r in rows
                                                        if r["dataset"] in other), 2)
    result = {"knowledge_base": {"path": str(kb.path), "checksum": kb_fingerprint(kb),
                                 "mode": "leave-one-battery-out (--kb per battery, default selector refitted)"},
              "summary": summary, "rows": rows,
              **({"against_rows": [other[r["dataset"]] for r in rows]} if args.against else {}),
              "machine": {"cpus": os.cpu_count(), "load_average_end": round(os.getloadavg()[0], 2),
                          "note": "shared 2-core machine: wall seconds vary with load; CPU seconds (user+sys) "
                                  "are the comparable number"}}
    from metaclust_automl.atomic import write_text

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / f"{args.name}.json", json.dumps(result, indent=1))
    write_text(out / f"{args.name}.md", render_md(result))
    print(render_md(result))
    return 0


def render_md(result: dict) -> str:
    s = result["summary"]
    lines = ["# bench/cli_cost.py (issue 16's cost line)", "",
             f"`metaclust cluster DATA -o labels.csv --json`, new process, default options, on {s['datasets']} dev "
             f"datasets, {result['knowledge_base']['mode']}. {result['machine']['note']}.", "",
             f"Total: {s['wall_seconds_total']:.1f} s wall, {s['cpu_seconds_total']:.1f} s CPU, mean load average "
             f"{s['load_average_mean']:.2f} (at the end {result['machine']['load_average_end']}); errors {s['errors']}."]
    if "compared_with" in s:
        lines += ["", f"Against {s['compared_with']} ({s['other_wall_seconds_total']:.1f} s wall, "
                  f"{s['other_cpu_seconds_total']:.1f} s CPU): labels identical on {s['labels_identical']} of "
                  f"{s['datasets']}" + (f"; differ: {', '.join(s['labels_differ'])}" if s["labels_differ"] else "") + "."]
    lines += ["", "| dataset | n | d | wall s | CPU s | load | labels sha256 | same | choice |",
              "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['dataset']} | {r['n']} | {r['d']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | "
                     f"{r['load_average_before']:.2f} | {r.get('labels_sha256', r.get('error', ''))[:12]} | "
                     f"{r.get('labels_identical', '')} | `{r.get('choice', '')[:60]}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
