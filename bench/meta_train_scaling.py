"""Meta-training on one storage: speed-up of 2 worker processes over 1, and resume.

1. A fixed workload (built-in corpus subset, qmc sampler) is built with ``--jobs 1`` and
   with ``--jobs 2``, each on a fresh SQLite storage: wall times, speed-up (target
   >= 1.7x on an otherwise idle 2-core machine) and whether both knowledge bases have the
   same content digest.
2. Interruption: a ``--jobs 2`` run on a fresh storage has one worker killed (SIGKILL)
   mid-way, its claims are taken over and the run completes; then another run is killed
   whole (SIGKILL to its process group) part-way and rerun: the rerun prints how many
   trials were already finished (skipped) and how many it ran, and the storage holds
   exactly one counted trial per slot.

Results: bench/results/meta_train_scaling.{json,md}. Usage::

    python bench/meta_train_scaling.py [--limit 48] [--trials 4] [--quick]

The default workload uses the settings of the shipped build (all six default backends,
4 trials, rows capped at 1500, time limit 20 s) on 48 tasks, so that the per-command fixed
cost (imports, creating the studies, opening the storage in each worker, writing the
knowledge base; about 5 s) is a small part of it, as it is in a real build. ``--quick``
runs the small workload of the first version (12 tasks x 4 cheap backends, 600 rows),
where that fixed cost dominates and caps the speed-up.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def cli(args: list[str], *, wait: bool = True) -> subprocess.Popen | tuple[float, str, str, int]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "metaclust_automl", "meta-train", *args, "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    if not wait:
        return proc
    out, err = proc.communicate()
    return time.perf_counter() - start, out, err, proc.returncode


def storage_counts(url: str) -> dict[str, int]:
    """Counted (finished, one per slot) search trials, all search trials, and voided ones."""
    from metaclust_automl.training.kb.slots import VOID, finished_by_slot
    from metaclust_automl.training.kb.storage import open_storage

    storage = open_storage(url)
    counted = created = void = 0
    for s in storage.get_all_studies():
        if "/search/" not in s.study_name:
            continue
        trials = storage.get_all_trials(s._study_id, deepcopy=False)
        counted += len(finished_by_slot(trials))
        created += len(trials)
        void += sum(1 for t in trials if t.user_attrs.get(VOID))
    return {"counted": counted, "created": created, "void": void}


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def wait_for(url: str, at_least: int, proc: subprocess.Popen, timeout: float = 900) -> int:
    start = time.time()
    while time.time() - start < timeout and proc.poll() is None:
        try:
            n = storage_counts(url)["counted"]
        except Exception:  # noqa: BLE001 - the storage may not exist yet
            n = 0
        if n >= at_least:
            return n
        time.sleep(1.0)
    return -1


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def summary_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("search:", "portfolio:"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=48, help="built-in tasks in the workload")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="small workload: 12 tasks, 4 cheap backends, 600 rows")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    a = ap.parse_args()

    from metaclust_automl.knowledge_base import KnowledgeBase

    work = Path(tempfile.mkdtemp(prefix="mt-scaling-"))
    if a.quick:
        a.limit, a.trials = 12, 6
        backends, portfolio, max_rows, limit_s = "kmeans,gmm,dbscan,birch", 12, 600, 30
    else:
        backends, portfolio, max_rows, limit_s = "kmeans,gmm,agglomerative,dbscan,hdbscan,birch", 24, 1500, 20
    common = ["--limit", str(a.limit), "--trials", str(a.trials), "--backends", backends,
              "--portfolio-size", str(portfolio), "--max-rows", str(max_rows), "--sampler", "qmc",
              "--time-limit", str(limit_s)]
    n_search = a.limit * len(backends.split(",")) * a.trials
    results: dict = {"workload": {"tasks": a.limit, "backends": backends, "trials": a.trials,
                                  "search_trials": n_search, "portfolio_size": portfolio, "max_rows": max_rows,
                                  "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}}
    print(f"workload: {a.limit} built-in tasks x {backends} x {a.trials} trials = {n_search} search trials, "
          f"portfolio {portfolio}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")

    # 1. scaling ---------------------------------------------------------------------------
    walls, digests = {}, {}
    for jobs in (1, 2):
        url = f"sqlite:///{work / f'jobs{jobs}.db'}"
        wall, out, err, code = cli([*common, "--out", str(work / f"kb{jobs}"), "--storage", url,
                                    "--jobs", str(jobs)])
        if code != 0:
            print(f"jobs={jobs} failed: {err.strip()}")
            return 1
        walls[jobs] = wall
        digests[jobs] = KnowledgeBase.load(work / f"kb{jobs}").content_digest()
        print(f"--jobs {jobs}: {wall:7.1f} s wall")
    # two worker processes started as separate commands (as on two machines), one storage
    url = f"sqlite:///{work / 'two-procs.db'}"
    start = time.perf_counter()
    procs = [cli([*common, "--out", str(work / f"kb-p{i}"), "--storage", url, "--jobs", "1"], wait=False)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            print(f"two processes: failed: {err.strip()}")
            return 1
    walls["2p"] = time.perf_counter() - start
    digests["2p"] = KnowledgeBase.load(work / "kb-p0").content_digest()
    print(f"2 x --jobs 1: {walls['2p']:7.1f} s wall (two commands sharing the storage)")
    speedup, speedup_p = walls[1] / walls[2], walls[1] / walls["2p"]
    same = digests[1] == digests[2] == digests["2p"]
    print(f"speed-up with 2 workers: {speedup:.2f}x (--jobs 2), {speedup_p:.2f}x (two commands); "
          f"target >= 1.7x; same knowledge base content: {same}")
    results["scaling"] = {"wall_s_jobs1": round(walls[1], 2), "wall_s_jobs2": round(walls[2], 2),
                          "wall_s_two_commands": round(walls["2p"], 2),
                          "speedup": round(speedup, 3), "speedup_two_commands": round(speedup_p, 3),
                          "target": 1.7, "same_content": same, "load_average_after": os.getloadavg(),
                          "autogroup": _autogroup()}

    # 2a. a worker killed mid-way ---------------------------------------------------------
    url = f"sqlite:///{work / 'killed-worker.db'}"
    proc = cli([*common, "--out", str(work / "kb-kw"), "--storage", url, "--jobs", "2"], wait=False)
    reached = wait_for(url, n_search // 3, proc)
    victims = children(proc.pid)
    killed = None
    if reached >= 0 and victims:
        killed = victims[0]
        os.kill(killed, signal.SIGKILL)
    out, err = proc.communicate()
    counts = storage_counts(url)
    digest_kw = KnowledgeBase.load(work / "kb-kw").content_digest() if proc.returncode == 0 else None
    print(f"worker {killed} killed after {reached} trials: run exit code {proc.returncode}; "
          f"{counts['counted']} counted trials of {n_search}, {counts['created']} created, "
          f"{counts['void']} voided claims; same content as uninterrupted: {digest_kw == digests[1]}")
    results["worker_killed"] = {"killed_after_trials": reached, "exit_code": proc.returncode,
                                "storage": counts, "same_content": digest_kw == digests[1],
                                "stderr_tail": err.strip().splitlines()[-3:]}

    # 2b. the whole run killed, then resumed ------------------------------------------------
    url = f"sqlite:///{work / 'resume.db'}"
    proc = cli([*common, "--out", str(work / "kb-r"), "--storage", url, "--jobs", "2"], wait=False)
    reached = wait_for(url, n_search // 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = storage_counts(url)
    wall, out, err, code = cli([*common, "--out", str(work / "kb-r"), "--storage", url, "--jobs", "2"])
    after = storage_counts(url)
    lines = summary_lines(err)
    digest_r = KnowledgeBase.load(work / "kb-r").content_digest() if code == 0 else None
    print(f"run killed after {before['counted']} finished trials; rerun ({wall:.1f} s, exit {code}):")
    for line in lines:
        print(f"  {line}")
    print(f"  storage after resume: {after['counted']} counted trials of {n_search} "
          f"({after['created']} created, {after['void']} voided claims); "
          f"same content as uninterrupted: {digest_r == digests[1]}")
    results["resume"] = {"finished_before_kill": before["counted"], "rerun_exit_code": code,
                         "rerun_wall_s": round(wall, 2), "rerun_summary": lines, "storage_after": after,
                         "repeated_trials": after["counted"] - n_search if code == 0 else None,
                         "same_content": digest_r == digests[1]}

    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from metaclust_automl.atomic import write_text

    write_text(out_dir / "meta_train_scaling.json", json.dumps(results, indent=1, default=str) + "\n")
    s, r, k = results["scaling"], results["resume"], results["worker_killed"]
    md = [
        "# Meta-training scaling and resume",
        "",
        f"Workload: {a.limit} built-in tasks x {backends} x {a.trials} trials ({n_search} search trials), "
        f"portfolio {portfolio}, rows capped at {max_rows}, qmc sampler; {os.cpu_count()} CPUs, load average before "
        f"{results['workload']['load_average_before'][0]:.1f}"
        + (" (other jobs share the machine)." if results['workload']['load_average_before'][0] > 1.5
           else " (otherwise idle)."),
        "",
        "| workers | wall (s) |",
        "|---|---|",
        f"| 1 | {s['wall_s_jobs1']} |",
        f"| 2 (`--jobs 2`) | {s['wall_s_jobs2']} |",
        f"| 2 (two `--jobs 1` commands, one storage) | {s['wall_s_two_commands']} |",
        "",
        f"Speed-up {s['speedup']}x with `--jobs 2`, {s['speedup_two_commands']}x with two commands "
        f"(target 1.7x); same knowledge-base content in all three: {s['same_content']}.",
        "",
        "Note: with the kernel's autogroup scheduling (here: "
        f"{'on' if s['autogroup'] else 'off'}), CPU time is shared per session; on a machine busy with other "
        "sessions, the workers of one command share one session's slice, so `--jobs 2` cannot run "
        "faster than `--jobs 1` there. Two commands are two sessions, like two machines.",
        "",
        f"One worker killed after {k['killed_after_trials']} trials: exit code {k['exit_code']}, "
        f"{k['storage']['counted']} counted trials ({k['storage']['void']} voided claims), "
        f"same content: {k['same_content']}.",
        "",
        f"Whole run killed after {r['finished_before_kill']} finished trials, then rerun:",
        "",
        *[f"    {line}" for line in r["rerun_summary"]],
        "",
        f"After resume: {r['storage_after']['counted']} counted trials of {n_search} "
        f"(repeated: {r['repeated_trials']}), same content: {r['same_content']}.",
        "",
    ]
    write_text(out_dir / "meta_train_scaling.md", "\n".join(md))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
