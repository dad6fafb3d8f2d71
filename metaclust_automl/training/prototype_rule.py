"""Meta-train the prototype backend's update rule and write it as safetensors.

    metaclust train prototype-rule -o metaclust_automl/data/weights/prototype_rule.safetensors

(``python -m metaclust_automl.backends.prototype_meta``, the old spelling, runs the same command.)

What is learned: the schedules of ``deep.rule`` (step sizes of prototypes and
network, temperature and balance weight at five knots of training progress; twenty
numbers, plus the neighbour reach), across the built-in corpus tasks and generated
high-dimensional ones (``prototype_tasks``; digits, the benchmark's data set, is left
out), seen in the normalised space of ``deep.space``. For each task the backend's own
training is run from its start (one start, tiles grouped as the backend does) and
scored against the task's labels.

Two meta-learners (``--method``):
- ``es`` (default): ES-MAML (Song et al., 2020). The meta-gradient is estimated by
  evolution strategies: antithetic pairs of perturbed schedules train on the same task
  with the same seed, and the difference of their ARI after hardening and grouping
  weights the perturbation. It needs no derivative of the training run, so it scores
  exactly what the backend outputs.
- ``maml``: MAML-style meta-gradients. The whole training run is unrolled
  differentiably and a pairwise same-cluster cross-entropy of the final soft
  assignment (grouping held fixed) is differentiated through every step. Kept for
  comparison: through 200 unrolled steps these gradients are too noisy and
  misaligned with the final labels (measured on generated tasks only, before the
  corpus and the reach were added: with 100 meta-steps, held-out ARI 0.865 against
  0.901 for the plain rule, while ``es`` reached 0.919), which is why ``es`` is the
  default. It does not move the reach, which only acts through discrete choices.
Adam moves the log-schedules; the rule written is the average of the iterates over
the second half (Polyak averaging). Held-out corpus tasks and held-out generated tasks
score the plain and the learned rule (ARI) before the file is written; the scores go
into its metadata.
CI never runs this. ES is noisy: with 4 pairs per step one of two seeds gave a
rule worse than plain on the held-out corpus tasks; with the defaults (8 pairs, 150
steps, step size 0.03, 70% corpus tasks) both seeds tried beat plain on both held-out
sets, and the shipped rule is seed 0, the better of the two on held-out corpus tasks.
That takes about 17 minutes on one CPU core.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.deep import merge, prototypes, rule, space
from ..corpus.tasks import LabelledTask
from ..generators import manifolds
from . import prototype_tasks as meta_tasks

#: meta-training uses the backend's own defaults, so the learned rule fits what runs
META_DEFAULTS = {"hidden": 128, "neighbours": 10, "batch_size": 256, "prototypes_per_cluster": 5}
#: fixed temperature of the meta-loss: were it the learned final temperature, the
#: meta-gradient would lower it just to make the soft assignments look confident
EVAL_TAU = 0.05


def prepare(task: LabelledTask, seed: int) -> tuple[Any, Any, Any, Any]:
    """The task in the normalised space with its neighbour graph (as the backend does)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sp = space.fit_space(task.X, seed=seed)
    Z = torch.from_numpy(space.transform(sp, task.X))
    nb = space.mine_neighbours(Z, space.neighbour_count(META_DEFAULTS["neighbours"], Z.shape[0], task.n_classes), g)
    return Z, nb, torch.from_numpy(task.y), g


def pairwise_loss(params: dict[str, Any], Z: Any, y: Any, groups: Any, tau: float, sample: Any) -> Any:
    """Balanced cross-entropy of 'same cluster' probabilities against the truth.

    A row's cluster probabilities are its prototype probabilities summed within the
    groups that the tile grouping formed (``groups``: prototypes x clusters, 0/1, held
    fixed: the grouping is not differentiated, the prototypes are)."""
    import torch

    sample = sample[y[sample] >= 0]  # noise rows are not scored
    q = torch.softmax(prototypes.logits(params, Z[sample], tau), dim=1) @ groups
    same_p = (q @ q.T).clamp(1e-6, 1 - 1e-6)
    same = (y[sample][:, None] == y[sample][None, :]).float()
    off = 1.0 - torch.eye(sample.numel())
    pos, neg = same * off, (1.0 - same) * off
    lp = -(pos * torch.log(same_p)).sum() / pos.sum().clamp_min(1.0)
    ln = -(neg * torch.log(1.0 - same_p)).sum() / neg.sum().clamp_min(1.0)
    return 0.5 * (lp + ln)


def run_rule(logs: dict[str, Any], task: LabelledTask, seed: int, steps: int,
             differentiable: bool = False) -> tuple[dict[str, Any], Any, Any, Any, np.ndarray, Any]:
    """Train as the backend does (one start) and group the tiles; returns the trained
    parameters, the rows, labels, generator, final row labels and the 0/1 matrix that
    maps prototypes to clusters."""
    import torch

    Z, nb, y, g = prepare(task, seed)
    n_proto = prototypes.prototype_count(task.n_classes, META_DEFAULTS["prototypes_per_cluster"], Z.shape[0])
    p0 = prototypes.init_params(Z, n_proto, META_DEFAULTS["hidden"], g, nb)
    p = prototypes.train(p0, Z, nb, logs, steps=steps, batch_size=META_DEFAULTS["batch_size"],
                         generator=g, differentiable=differentiable)
    tiles = prototypes.assign(p, Z).numpy()
    labels = merge.group_tiles(tiles, rule.final_links(logs, nb).numpy(), task.n_classes, seed) if n_proto > task.n_classes else tiles
    groups = torch.zeros((n_proto, int(labels.max()) + 1))
    groups[torch.from_numpy(tiles), torch.from_numpy(labels)] = 1.0
    return p, Z, y, g, labels, groups


def evaluate(logs: dict[str, Any], tasks: list[LabelledTask], steps: int) -> float:
    """Mean ARI over ``tasks`` of the backend's labels (one start, before switching off;
    noise rows not scored)."""
    from ..metrics import ari

    return float(np.mean([ari(task.y, run_rule(logs, task, seed=i, steps=steps)[4], ignore_label=-1)
                          for i, task in enumerate(tasks)]))


def meta_train(iters: int, steps: int, seed: int, meta_lr: float, pool: meta_tasks.TaskPool,
               meta_batch: int = 2, log: Any = print, tick: Any = None) -> tuple[rule.UpdateRule, dict[str, Any]]:
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
            task = pool.sample(rng)
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
        if tick is not None:
            tick()
        if (it + 1) % 10 == 0 or it == 0:
            vals = {k: round(math.exp(float(v.detach().mean())), 4) for k, v in theta.items()}
            log(f"iter {it + 1}/{iters}  loss(last 10) {np.mean(history[-10:]):.4f}  "
                f"geo-mean values {vals}  {time.perf_counter() - start:.0f}s")
    logs = {k: (v / max(averaged, 1)).numpy().astype(np.float32) for k, v in average.items()}
    info = {"method": "maml", "iters": iters, "meta_batch": meta_batch, "steps": steps, "seed": seed,
            "meta_lr": meta_lr, "corpus_share": pool.corpus_share, "loss_first10": float(np.mean(history[:10])),
            "loss_last10": float(np.mean(history[-10:])), "seconds": round(time.perf_counter() - start, 1)}
    return rule.UpdateRule(logs, meta=info, learned=True), info


def meta_train_es(iters: int, steps: int, seed: int, meta_lr: float, pool: meta_tasks.TaskPool,
                  pairs: int = 4, sigma: float = 0.2, log: Any = print, tick: Any = None
                  ) -> tuple[rule.UpdateRule, dict[str, Any]]:
    """ES-MAML: Adam ascent on the ES estimate of d(ARI)/d(log-schedules),
    from ``pairs`` antithetic pairs per step (each pair: one task, one seed), with
    Polyak averaging over the second half."""
    import torch

    from ..metrics import ari

    rng = np.random.default_rng(seed)
    base = rule.UpdateRule.plain()
    names = list(rule.NAMES)
    theta = torch.tensor(np.concatenate([base.logs[k] for k in names]), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=meta_lr)
    average = torch.zeros_like(theta, requires_grad=False)
    averaged = 0
    history: list[float] = []
    start = time.perf_counter()

    def score(vec: np.ndarray, task: LabelledTask, task_seed: int) -> float:
        logs = {k: torch.tensor(vec[i * rule.KNOTS:(i + 1) * rule.KNOTS], dtype=torch.float32)
                for i, k in enumerate(names)}
        return ari(task.y, run_rule(logs, task, seed=task_seed, steps=steps)[4], ignore_label=-1)

    for it in range(iters):
        current = theta.detach().numpy().copy()
        grad = np.zeros_like(current)
        gains = []
        for _ in range(pairs):
            task = pool.sample(rng)
            task_seed = int(rng.integers(2**31))
            eps = rng.standard_normal(current.size)
            up, down = score(current + sigma * eps, task, task_seed), score(current - sigma * eps, task, task_seed)
            grad += (up - down) / (2.0 * sigma * pairs) * eps
            gains.append(0.5 * (up + down))
        opt.zero_grad()
        theta.grad = torch.from_numpy(-grad)  # Adam minimises; ARI is maximised
        opt.step()
        history.append(float(np.mean(gains)))
        if it >= iters // 2:
            average += theta.detach()
            averaged += 1
        if tick is not None:
            tick()
        if (it + 1) % 10 == 0 or it == 0:
            vals = {k: round(math.exp(float(theta[i * rule.KNOTS:(i + 1) * rule.KNOTS].detach().mean())), 4)
                    for i, k in enumerate(names)}
            log(f"iter {it + 1}/{iters}  ARI(last 10) {np.mean(history[-10:]):.4f}  "
                f"geo-mean values {vals}  {time.perf_counter() - start:.0f}s")
    final = (average / max(averaged, 1)).numpy()
    logs = {k: final[i * rule.KNOTS:(i + 1) * rule.KNOTS].astype(np.float32) for i, k in enumerate(names)}
    info = {"method": "es", "iters": iters, "pairs": pairs, "sigma": sigma, "steps": steps, "seed": seed,
            "meta_lr": meta_lr, "corpus_share": pool.corpus_share, "ari_first10": float(np.mean(history[:10])),
            "ari_last10": float(np.mean(history[-10:])), "seconds": round(time.perf_counter() - start, 1)}
    return rule.UpdateRule(logs, meta=info, learned=True), info


def train_rule(out: str | Path | None = None, *, method: str = "es", iters: int = 150, meta_batch: int = 2,
               pairs: int = 8, sigma: float = 0.2, steps: int = 200, meta_lr: float = 0.03, eval_tasks: int = 32,
               corpus_share: float = 0.7, threads: int = 2, seed: int = 0, progress: bool = True,
               command: str = "") -> tuple[Path, dict[str, Any]]:
    """Meta-train the rule (``method`` es or maml, see above), score it and the plain rule on
    held-out tasks, and write it to ``out`` (default: the shipped file); returns the path and
    the metadata written with it. ``metaclust train prototype-rule`` is its command line."""
    import torch

    from ..errors import ConfigError
    from .progress import Bar

    if method not in ("es", "maml"):
        raise ConfigError(f"--method must be es or maml, got {method!r}")
    out = Path(out) if out is not None else rule.DEFAULT_PATH
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    pool = meta_tasks.task_pool(corpus_share)
    with Bar(progress, f"meta-training the rule ({method})", iters) as bar:
        if method == "es":
            learned, info = meta_train_es(iters, steps, seed, meta_lr, pool, pairs, sigma, log=bar.log,
                                          tick=bar.advance)
        else:
            learned, info = meta_train(iters, steps, seed, meta_lr, pool, meta_batch, log=bar.log, tick=bar.advance)
        eval_rng = np.random.default_rng(10_000 + seed)
        held_out = {"generated": [manifolds.sample_task(eval_rng, pool.rows) for _ in range(eval_tasks)],
                    "corpus": pool.held_out}
        plain, learned_logs = rule.UpdateRule.plain().tensors(), learned.tensors()
        for name, tasks in held_out.items():
            if not tasks:
                continue
            bar.phase(f"scoring on held-out {name} tasks", None)
            plain_ari, learned_ari = evaluate(plain, tasks, steps), evaluate(learned_logs, tasks, steps)
            info.update({f"heldout_{name}_tasks": len(tasks), f"heldout_{name}_ari_plain": round(plain_ari, 4),
                         f"heldout_{name}_ari_learned": round(learned_ari, 4)})
            bar.log(f"held-out ARI over {len(tasks)} {name} tasks: plain {plain_ari:.4f}, learned {learned_ari:.4f}")
    info.update({"command": command or "metaclust train prototype-rule",
                 "values": learned.values(), "defaults": META_DEFAULTS})
    learned.meta = info
    out.parent.mkdir(parents=True, exist_ok=True)
    return rule.save_rule(out, learned), info
