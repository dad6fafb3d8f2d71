"""Meta-train the prototype backend's update rule and write it as safetensors.

    python -m metaclust_automl.backends.prototype_meta \\
        --out metaclust_automl/data/weights/prototype_rule.safetensors

What is learned: the schedules of ``deep.rule`` (step sizes of prototypes and
network, temperature and balance weight at five knots of training progress; twenty
numbers). How: MAML-style meta-gradients. For each generated task (``deep.synthetic``,
in the normalised space of ``deep.space``) the whole training run of the backend is
unrolled, differentiably, from its k-means++ start; the loss of the final soft
assignment against the task's true labels (a pairwise same-cluster cross-entropy,
which does not depend on how clusters are numbered) is differentiated with respect
to the schedules through every step, and Adam updates them. Held-out generated tasks
score the plain and the learned rule (ARI) before the file is written; those scores
go into the file's metadata. CI never runs this; it takes a few minutes on two CPU
cores.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .deep import merge, prototypes, rule, space, synthetic

#: meta-training uses the backend's own defaults, so the learned rule fits what runs
META_DEFAULTS = {"hidden": 128, "neighbours": 10, "batch_size": 256, "prototypes_per_cluster": 5}
#: fixed temperature of the meta-loss: were it the learned final temperature, the
#: meta-gradient would lower it just to make the soft assignments look confident
EVAL_TAU = 0.05


def prepare(task: synthetic.Task, seed: int) -> tuple[Any, Any, Any, Any]:
    """The task in the normalised space with its neighbour graph (as the backend does)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sp = space.fit_space(task.X, seed=seed)
    Z = torch.from_numpy(space.transform(sp, task.X))
    nb = space.mine_neighbours(Z, space.neighbour_count(META_DEFAULTS["neighbours"], Z.shape[0], task.k), g)
    return Z, nb, torch.from_numpy(task.y), g


def pairwise_loss(params: dict[str, Any], Z: Any, y: Any, groups: Any, tau: float, sample: Any) -> Any:
    """Balanced cross-entropy of 'same cluster' probabilities against the truth.

    A row's cluster probabilities are its prototype probabilities summed within the
    groups that the tile grouping formed (``groups``: prototypes x clusters, 0/1, held
    fixed: the grouping is not differentiated, the prototypes are)."""
    import torch

    q = torch.softmax(prototypes.logits(params, Z[sample], tau), dim=1) @ groups
    same_p = (q @ q.T).clamp(1e-6, 1 - 1e-6)
    same = (y[sample][:, None] == y[sample][None, :]).float()
    off = 1.0 - torch.eye(sample.numel())
    pos, neg = same * off, (1.0 - same) * off
    lp = -(pos * torch.log(same_p)).sum() / pos.sum().clamp_min(1.0)
    ln = -(neg * torch.log(1.0 - same_p)).sum() / neg.sum().clamp_min(1.0)
    return 0.5 * (lp + ln)


def run_rule(logs: dict[str, Any], task: synthetic.Task, seed: int, steps: int,
             differentiable: bool = False) -> tuple[dict[str, Any], Any, Any, Any, np.ndarray, Any]:
    """Train as the backend does (one start) and group the tiles; returns the trained
    parameters, the rows, labels, generator, final row labels and the 0/1 matrix that
    maps prototypes to clusters."""
    import torch

    Z, nb, y, g = prepare(task, seed)
    n_proto = prototypes.prototype_count(task.k, META_DEFAULTS["prototypes_per_cluster"], Z.shape[0])
    p0 = prototypes.init_params(Z, n_proto, META_DEFAULTS["hidden"], g, nb)
    p = prototypes.train(p0, Z, nb, logs, steps=steps, batch_size=META_DEFAULTS["batch_size"],
                         generator=g, differentiable=differentiable)
    tiles = prototypes.assign(p, Z).numpy()
    labels = merge.group_tiles(tiles, nb.numpy(), task.k, seed) if n_proto > task.k else tiles
    groups = torch.zeros((n_proto, int(labels.max()) + 1))
    groups[torch.from_numpy(tiles), torch.from_numpy(labels)] = 1.0
    return p, Z, y, g, labels, groups


def evaluate(logs: dict[str, Any], tasks: list[synthetic.Task], steps: int) -> float:
    """Mean ARI over ``tasks`` of the backend's labels (one start, before switching off)."""
    from ..metrics import ari

    return float(np.mean([ari(task.y, run_rule(logs, task, seed=i, steps=steps)[4])
                          for i, task in enumerate(tasks)]))


def meta_train(iters: int, steps: int, seed: int, meta_lr: float, n_range: tuple[int, int],
               meta_batch: int = 2, log: Any = print) -> tuple[rule.UpdateRule, dict[str, Any]]:
    """Adam on the log-schedules with meta-gradients averaged over ``meta_batch`` tasks;
    the rule returned is the average of the iterates over the second half (Polyak
    averaging), which tames the noise of meta-gradients through long unrolled runs."""
    import torch

    rng = np.random.default_rng(seed)
    theta = rule.UpdateRule.plain().tensors(requires_grad=True)
    opt = torch.optim.Adam(list(theta.values()), lr=meta_lr)
    average = {k: torch.zeros_like(v) for k, v in theta.items()}
    averaged = 0
    history = []
    start = time.perf_counter()
    for it in range(iters):
        opt.zero_grad()
        batch_loss = 0.0
        for _ in range(meta_batch):
            task = synthetic.sample_task(rng, n_range)
            p, Z, y, g, _, groups = run_rule(theta, task, seed=int(rng.integers(2**31)), steps=steps,
                                             differentiable=True)
            sample = torch.randperm(Z.shape[0], generator=g)[:400]
            loss = pairwise_loss(p, Z, y, groups, EVAL_TAU, sample) / meta_batch
            loss.backward()
            batch_loss += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(list(theta.values()), 1.0)
        opt.step()
        history.append(batch_loss)
        if it >= iters // 2:
            with torch.no_grad():
                for k, v in theta.items():
                    average[k] += v
            averaged += 1
        if (it + 1) % 10 == 0 or it == 0:
            vals = {k: round(math.exp(float(v.detach().mean())), 4) for k, v in theta.items()}
            log(f"iter {it + 1}/{iters}  loss(last 10) {np.mean(history[-10:]):.4f}  "
                f"geo-mean values {vals}  {time.perf_counter() - start:.0f}s")
    logs = {k: (v / max(averaged, 1)).numpy().astype(np.float32) for k, v in average.items()}
    info = {"iters": iters, "meta_batch": meta_batch, "steps": steps, "seed": seed, "meta_lr": meta_lr,
            "task_rows": list(n_range), "loss_first10": float(np.mean(history[:10])),
            "loss_last10": float(np.mean(history[-10:])), "seconds": round(time.perf_counter() - start, 1)}
    return rule.UpdateRule(logs, meta=info, learned=True), info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metaclust_automl.backends.prototype_meta",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=rule.DEFAULT_PATH, help="safetensors file to write")
    parser.add_argument("--iters", type=int, default=80, help="meta-gradient steps")
    parser.add_argument("--meta-batch", type=int, default=2, help="tasks per meta-gradient step")
    parser.add_argument("--steps", type=int, default=200, help="training steps unrolled per task")
    parser.add_argument("--meta-lr", type=float, default=0.03, help="Adam step size on the log-schedules")
    parser.add_argument("--eval-tasks", type=int, default=24, help="held-out tasks scored at the end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    n_range = (300, 1200)
    learned, info = meta_train(args.iters, args.steps, args.seed, args.meta_lr, n_range, args.meta_batch,
                               log=lambda s: print(s, file=sys.stderr, flush=True))
    eval_rng = np.random.default_rng(10_000 + args.seed)
    held_out = [synthetic.sample_task(eval_rng, n_range) for _ in range(args.eval_tasks)]
    plain_ari = evaluate(rule.UpdateRule.plain().tensors(), held_out, args.steps)
    learned_ari = evaluate(learned.tensors(), held_out, args.steps)
    info.update({"heldout_tasks": args.eval_tasks, "heldout_ari_plain": round(plain_ari, 4),
                 "heldout_ari_learned": round(learned_ari, 4),
                 "command": "python -m metaclust_automl.backends.prototype_meta " + " ".join(argv or sys.argv[1:]),
                 "values": learned.values(), "defaults": META_DEFAULTS})
    learned.meta = info
    print(f"held-out ARI over {args.eval_tasks} generated tasks: plain {plain_ari:.4f}, "
          f"learned {learned_ari:.4f}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rule.save_rule(args.out, learned)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
