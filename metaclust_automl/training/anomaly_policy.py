"""Meta-train the anomaly policy with REINFORCE (a baseline subtracted) across labelled tasks.

One command builds the shipped weights::

    metaclust train anomaly-policy -o metaclust_automl/data/anomaly

(``python -m metaclust_automl.anomaly.train``, the old spelling, runs the same command.)

It generates the corpus described by ``meta_datasets/anomaly/corpus.json`` (no downloads),
computes every task's states, trains, and writes ``policy.safetensors`` + ``policy.json``.

The RL problem. Each row of a task is a one-step episode (a contextual bandit): the state is
the row's features (see ``features``), the action is "anomalous" or "normal", drawn from
the policy's Bernoulli distribution, and the reward is +1 for a correct call and -1 for a
wrong one. **Class weighting**: the reward of a row is weighted by 1 / (2 pi) when it is an
anomaly and by 1 / (2 (1 - pi)) when it is normal (pi = the task's contamination), so each
class carries half of a task's reward. Unweighted, calling every row normal would earn
1 - 2 pi per row, nearly the maximum on a 2%-contaminated table, and the policy would learn
to ignore anomalies; weighted, that policy earns 0 and only telling them apart pays. The
weighting is realised by sampling: every minibatch draws the same number of anomalies and
normal rows from each task, with rewards of +-1, which has the same expected gradient as
uniform sampling with the weights above and much less variance. Small tables count as much
as big ones, and two choices shape which rows and tasks the policy learns from (both chosen
on held-out corpus tasks, mean ROC-AUC and average precision over the six anomaly kinds, three
seeds each; see the README's anomaly section for the numbers):

- *kind balance* (``balance_kinds``): tasks are drawn so each anomaly kind (local, global,
  dependency, clustered, subspace, and real rare classes) carries the same weight. The corpus
  holds unequal numbers of them, and dependency anomalies, invisible to the per-column
  detectors (ECOD, HBOS, PCA: ROC-AUC about 0.55 on them), taught the policy to distrust those
  detectors, which are the strongest on several real tables;
- *hard negatives* (``hard_negatives``): half of each task's sampled normal rows come from its
  10% of normal rows with the highest mean detector rank. Those are the normal rows at the top
  of an unsupervised ranking, the ones that cost average precision, and a uniform sample holds
  few of them.

The gradient is REINFORCE's, (r - b(s)) grad log pi(a | s), with a learned state-value
baseline b (a second head of the network, fitted by squared error) and a small entropy
bonus; several actions are sampled per state. Three regularisers, chosen on held-out
corpus tasks, help the policy transfer from generated tasks to real tables:

- *detector dropout*: each training row hides a random 15% of its detectors (rank 0.5,
  magnitude 0), so the policy cannot lean on any single one;
- a small penalty on the squared logit, so P(anomalous) stays off exactly 0 and 1, where
  the most anomalous rows of a table would tie;
- tasks that no detector can solve without labels are left out (``filter_tasks``).

``--contamination auto`` estimates a table's share of anomalies from the policy's scores
(``contamination``): three rules (threshold, EM, boosted regression) are scored here, after
training, by leave-one-family-out over the corpus tasks, the best is refitted on them all,
and their measured errors are recorded in ``info.contamination`` next to the descriptor head's (a supervised head that predicts the
share from the table's descriptors, kept for that comparison).
The checkpoint kept is the one with the best
mean ROC-AUC (of P(anomalous)) on held-out *tasks* of the corpus; the benchmark datasets
are never used in training.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus.tasks import LabelledTask
from ..generators.anomalies import generate, load_spec
from ..anomaly.detectors import DETECTOR_NAMES
from ..anomaly.features import feature_names
from ..anomaly.observe import observe
from ..anomaly.policy import Policy, build_network, device


@dataclass
class TrainConfig:
    hidden: tuple[int, ...] = (64, 64)
    steps: int = 2000
    tasks_per_batch: int = 32
    rows_per_class: int = 32
    actions_per_state: int = 4
    lr: float = 2e-3
    weight_decay: float = 1e-4
    entropy: float = 0.003
    value_coef: float = 0.5
    dropout: float = 0.1
    #: bound on how far a table's descriptors may move a detector's trust (log scale)
    modulation: float = 3.0
    validation_share: float = 0.15
    #: seed of the held-out split (kept apart from ``seed`` so runs are compared on the same tasks)
    split_seed: int = 0
    #: chance that a detector is hidden from a training row (rank 0.5, magnitude 0)
    detector_dropout: float = 0.15
    #: weight of the mean squared logit in the loss: keeps P(anomalous) off exactly 0 and 1,
    #: where the most anomalous rows would tie and lose their order
    logit_penalty: float = 1e-3
    #: weight of the squared error of the contamination head (log-odds of the task's share)
    share_coef: float = 0.1
    eval_every: int = 100
    seed: int = 0
    #: draw tasks so that every anomaly kind (``TaskStates.kind``) carries the same weight, not
    #: every task: the corpus holds unequal numbers of each kind, and the kinds favour different
    #: detectors (dependency anomalies are invisible to the per-column ECOD, HBOS and PCA)
    balance_kinds: bool = True
    #: share of each task's sampled normal rows drawn from its hardest normal rows (the top
    #: ``hard_top`` of the normal rows by mean detector rank) instead of uniformly: the rows that
    #: sit at the top of an unsupervised ranking are the ones average precision punishes
    hard_negatives: float = 0.5
    hard_top: float = 0.1


@dataclass
class TaskStates:
    """A task's states and labels, ready for training."""

    id: str
    family: str
    state: np.ndarray  # float32 (n, f)
    y: np.ndarray  # int (n,)
    #: the task's anomaly kind (``generators.anomalies.KINDS``, or "rare_class")
    kind: str = ""


def task_states(tasks: list[LabelledTask], *, seed: int = 0, progress: bool = False,
                tick: Any = None) -> list[TaskStates]:
    """Fit the detector bank on every task and keep its in-sample state."""
    out = []
    start = time.time()
    for i, task in enumerate(tasks):
        obs = observe(task.X, detectors=DETECTOR_NAMES, seed=seed)
        out.append(TaskStates(task.id, task.group, obs.state, task.y.astype(np.int64), task_kind(task)))
        if tick is not None:
            tick()
        if progress and (i + 1) % 25 == 0:
            print(f"  states: {i + 1}/{len(tasks)} tasks, {time.time() - start:.0f} s", file=sys.stderr)
    return out


def task_kind(task: LabelledTask) -> str:
    """The anomaly kind of a generated task (its generator's ``info``); a real class against
    others (``rare_class``) has no generated kind and counts as one of its own."""
    return str((task.info or {}).get("kind") or task.group)


def kind_balanced_mean(values: list[float], kinds: list[str]) -> float:
    """The mean over anomaly kinds of the mean value of each kind's tasks."""
    by: dict[str, list[float]] = {}
    for v, k in zip(values, kinds):
        by.setdefault(k, []).append(v)
    return float(np.mean([np.mean(v) for v in by.values()]))


def filter_tasks(tasks: list[TaskStates], min_best_auc: float = 0.6, min_mean_auc: float = 0.5
                 ) -> tuple[list[TaskStates], int]:
    """Keep the tasks whose anomalies some detector can find without labels.

    A task where no standard detector reaches ``min_best_auc``, or where they rank the
    anomalies below the normal rows on average (mean ROC-AUC under ``min_mean_auc``), has
    "anomalies" that are denser or more central than the normal rows: nothing unsupervised
    can learn from it, and with it the policy learns to trust whichever detector is least
    wrong there (typically LOF, near 0.5), which transfers badly. Returns (kept, dropped count).
    """
    n_det = len(DETECTOR_NAMES)
    kept = []
    for t in tasks:
        aucs = [_auc(t.y, t.state[:, j]) for j in range(n_det)]
        if max(aucs) >= min_best_auc and float(np.mean(aucs)) >= min_mean_auc:
            kept.append(t)
    return kept, len(tasks) - len(kept)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def split_tasks(tasks: list[TaskStates], share: float, seed: int) -> tuple[list[TaskStates], list[TaskStates]]:
    """Hold out whole tasks, the same share of every family."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for fam in sorted({t.family for t in tasks}):
        members = [t for t in tasks if t.family == fam]
        order = rng.permutation(len(members))
        n_val = int(round(share * len(members)))
        val += [members[i] for i in order[:n_val]]
        train += [members[i] for i in order[n_val:]]
    return train, val


def train_policy(tasks: list[TaskStates], config: TrainConfig | None = None, *, log: Any = None,
                 tick: Any = None) -> Policy:
    """REINFORCE with a baseline on the tasks' states; returns the best policy on held-out tasks."""
    import torch

    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    names = feature_names(DETECTOR_NAMES)
    if config.validation_share > 0 and len(tasks) >= 4:
        train, val = split_tasks(tasks, config.validation_share, config.split_seed)
    else:
        train, val = tasks, []
    train = [t for t in train if 0 < t.y.sum() < t.y.size]
    if not train:
        raise ValueError("no training task has both anomalies and normal rows")
    allx = np.vstack([t.state for t in train]).astype(np.float64)
    mean = allx.mean(axis=0).astype(np.float32)
    std = allx.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    low, high = allx.min(axis=0).astype(np.float32), allx.max(axis=0).astype(np.float32)
    del allx
    # The rows' ranks and magnitudes enter the monotone basis raw; only the context is standardised.
    n_row = 2 * len(DETECTOR_NAMES)
    mean[:n_row], std[:n_row] = 0.0, 1.0

    dev = device()
    net = build_network(len(DETECTOR_NAMES), len(names), config.hidden, config.dropout, config.modulation).to(dev)
    policy = Policy(net=net, feature_names=names, detectors=list(DETECTOR_NAMES), input_mean=mean,
                    input_std=std, hidden=config.hidden, input_low=low, input_high=high,
                    dropout=config.dropout, modulation=config.modulation)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.steps)
    share_target = [float(np.log(t.y.mean() / (1.0 - t.y.mean()))) for t in train]
    pos = [np.flatnonzero(t.y == 1) for t in train]
    neg = [np.flatnonzero(t.y == 0) for t in train]
    states = [torch.from_numpy(((np.clip(t.state, low, high) - mean) / std).astype(np.float32)) for t in train]

    def evaluate() -> float:
        if not val:
            return float("nan")
        aucs = [_auc(t.y, policy.logits(t.state)) for t in val]
        if config.balance_kinds:
            return kind_balanced_mean(aucs, [t.kind for t in val])
        return float(np.mean(aucs))

    if config.balance_kinds:
        counts: dict[str, int] = {}
        for t in train:
            counts[t.kind] = counts.get(t.kind, 0) + 1
        task_p = np.array([1.0 / counts[t.kind] for t in train])
        task_p /= task_p.sum()
    else:
        task_p = None
    n_det = len(DETECTOR_NAMES)
    # each task's hardest normal rows: the top hard_top of them by mean detector rank
    hard = []
    for t, idx in zip(train, neg):
        mean_rank = t.state[idx, :n_det].mean(axis=1)
        top = max(1, int(round(config.hard_top * idx.size)))
        hard.append(idx[np.argsort(mean_rank)[-top:]])

    best = (-np.inf, None, 0)
    history = []
    started = time.time()
    k = config.rows_per_class
    for step in range(1, config.steps + 1):
        net.train()
        if task_p is None:
            picks = rng.choice(len(train), size=config.tasks_per_batch, replace=len(train) < config.tasks_per_batch)
        else:
            picks = rng.choice(len(train), size=config.tasks_per_batch, replace=True, p=task_p)
        xs, ys, shares = [], [], []
        k_hard = int(round(config.hard_negatives * k))
        for ti in picks:
            rows = np.concatenate([rng.choice(pos[ti], k), rng.choice(neg[ti], k - k_hard),
                                   rng.choice(hard[ti], k_hard)])
            xs.append(states[ti][torch.from_numpy(rows)])
            ys.append(np.r_[np.ones(k), np.zeros(k)])
            shares.append(share_target[ti])
        x = torch.cat(xs).to(dev)
        if config.detector_dropout > 0:
            hide = torch.rand(x.shape[0], n_det, device=dev) < config.detector_dropout
            x = x.clone()
            x[:, :n_det] = torch.where(hide, torch.full_like(x[:, :n_det], 0.5), x[:, :n_det])
            x[:, n_det:2 * n_det] = torch.where(hide, torch.zeros_like(x[:, :n_det]), x[:, n_det:2 * n_det])
        y = torch.from_numpy(np.concatenate(ys).astype(np.float32)).to(dev)
        logit, value = net(x)
        dist = torch.distributions.Bernoulli(logits=logit)
        actions = dist.sample((config.actions_per_state,))  # (A, B)
        reward = torch.where(actions == y, 1.0, -1.0)
        advantage = reward - value.detach()
        pg_loss = -(advantage * dist.log_prob(actions)).mean()
        value_loss = ((value[None, :] - reward) ** 2).mean()
        # the contamination head is supervised (one value per task, read from its first sampled row)
        share_pred = net.share_logit(x[:: 2 * k])
        share_loss = ((share_pred - torch.tensor(shares, dtype=torch.float32, device=dev)) ** 2).mean()
        loss = (pg_loss + config.value_coef * value_loss - config.entropy * dist.entropy().mean()
                + config.logit_penalty * (logit ** 2).mean() + config.share_coef * share_loss)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if tick is not None:
            tick()
        if step % config.eval_every == 0 or step == config.steps:
            score = evaluate()
            mean_reward = float(reward.mean())
            history.append({"step": step, "val_auc": round(score, 5), "batch_reward": round(mean_reward, 4)})
            if log is not None:
                log(f"  step {step}: batch reward {mean_reward:+.3f}, held-out ROC-AUC {score:.4f}, "
                    f"{time.time() - started:.0f} s")
            if not np.isfinite(score) or score > best[0]:
                best = (score, {k_: v.detach().clone() for k_, v in net.state_dict().items()}, step)
    if best[1] is not None:
        net.load_state_dict(best[1])
    net.eval()
    contamination = calibrate_contamination(policy, train, val)
    policy.info = {
        "algorithm": "REINFORCE with a learned state-value baseline (contextual bandit, one step per row)",
        "reward": "+1 correct, -1 wrong; class-balanced per task (anomalies weight 1/(2 pi), normal rows 1/(2(1-pi)))",
        "config": {k_: (list(v) if isinstance(v, tuple) else v) for k_, v in vars(config).items()},
        "train_tasks": len(train), "validation_tasks": len(val),
        "best_step": best[2], "validation_auc": None if not np.isfinite(best[0]) else round(best[0], 5),
        "history": history, "seconds": round(time.time() - started, 1),
        "contamination": contamination,
    }
    return policy


def calibrate_contamination(policy: Policy, train: list[TaskStates], val: list[TaskStates]) -> dict[str, Any]:
    """Choose the ``--contamination auto`` method by leave-one-family-out over all corpus tasks
    (``contamination.choose_rule``), fit it on them all, and record the descriptor head's
    held-out error next to it for comparison."""
    from ..anomaly.contamination import choose_rule, flagged_error, share_features

    def described(t: TaskStates) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        z = policy.logits(t.state)
        return z, t.y, share_features(z, t.state, len(policy.detectors)), t.family

    tasks = [described(t) for t in list(train) + list(val)]
    if len({t[3] for t in tasks}) < 2:  # a one-family corpus: two alternating halves stand in
        tasks = [(z, y, f, f"half{i % 2}") for i, (z, y, f, _) in enumerate(tasks)]  # for families
    rule = choose_rule(tasks)
    policy.contamination_rule = {k: rule[k] for k in ("method", "t", "a", "b", "baseline", "trees",
                                                      "features_version") if k in rule}
    # the trees live in the rule (policy.json's contamination_rule), not twice in info
    rule = {k: v for k, v in rule.items() if k != "trees"}
    if val:
        head = [flagged_error(policy.estimate_contamination(t.state), t.y.size, int(t.y.sum())) for t in val]
        rule["within_2x"]["share_head"] = round(float(np.mean(np.asarray(head) <= 2.0)), 4)
    return rule


def train(out: str | Path, *, spec: str | Path | None = None, steps: int | None = None, seed: int = 0,
          limit_per_family: int | None = None, cache: str | Path | None = None, progress: bool = True,
          command: str = "") -> Policy:
    """Generate the corpus of ``spec`` (default ``meta_datasets/anomaly/corpus.json``), compute
    its states (or read them from ``cache``), train, and write ``policy.safetensors`` and
    ``policy.json`` to the directory ``out``. ``metaclust train anomaly-policy`` is its command
    line. Bad arguments raise ConfigError before any work."""
    import torch
    from threadpoolctl import threadpool_limits

    from ..errors import ConfigError
    from .progress import Bar

    torch.set_num_threads(1)
    out = Path(out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise ConfigError(f"cannot write {out}: directory {out.parent} does not exist")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"cannot write {out}: it is a file, not a directory")
    spec_dict = load_spec(spec)
    spec_hash = hashlib.sha256(json.dumps(spec_dict, sort_keys=True).encode()).hexdigest()
    started = time.time()
    cache_path = Path(cache) if cache else None
    config = TrainConfig(steps=steps, seed=seed) if steps is not None else TrainConfig(seed=seed)
    with Bar(progress, "generating the corpus") as bar, threadpool_limits(1):  # one thread each: faster
        # than oversubscribed BLAS/OpenMP here
        if cache_path is not None and cache_path.is_file():
            states = load_cache(cache_path, spec_hash)
            bar.log(f"read {len(states)} task states from {cache_path}")
        else:
            tasks = list(generate(spec_dict, limit_per_family=limit_per_family))
            bar.phase("detector scores of the corpus tasks", len(tasks))
            states = task_states(tasks, seed=seed, tick=bar.advance)
            if cache_path is not None:
                save_cache(cache_path, states, spec_hash)
        rule = dict(spec_dict.get("filter", {}))
        states, dropped = filter_tasks(states, float(rule.get("min_best_auc", 0.6)),
                                       float(rule.get("min_mean_auc", 0.5)))
        prepared = time.time() - started
        bar.log(f"{len(states)} tasks ready in {prepared:.0f} s ({dropped} undetectable ones left out); training ...")
        bar.phase("policy-gradient steps", config.steps, done="policy trained")
        policy = train_policy(states, config, log=bar.log, tick=bar.advance)
    policy.info.update({"corpus_spec_sha256": spec_hash, "corpus_tasks": len(states),
                        "corpus_tasks_left_out": dropped,
                        "command": command or "metaclust train anomaly-policy",
                        "total_seconds": round(time.time() - started, 1)})
    policy.save(out)
    return policy


def save_cache(path: Path, states: list[TaskStates], spec_hash: str) -> None:
    from ..atomic import atomic_path

    arrays: dict[str, np.ndarray] = {"spec_hash": np.array(spec_hash)}
    for i, t in enumerate(states):
        arrays[f"s{i}"] = t.state
        arrays[f"y{i}"] = t.y
    arrays["ids"] = np.array([t.id for t in states])
    arrays["families"] = np.array([t.family for t in states])
    arrays["kinds"] = np.array([t.kind for t in states])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_cache(path: Path, spec_hash: str) -> list[TaskStates]:
    from ..errors import ConfigError

    with np.load(path, allow_pickle=False) as z:
        if str(z["spec_hash"]) != spec_hash or z["s0"].shape[1] != len(feature_names(DETECTOR_NAMES)):
            raise ConfigError(f"{path} was built from another corpus spec or state layout; delete it")
        if "kinds" not in z.files:
            raise ConfigError(f"{path} predates the tasks' anomaly kinds; delete it")
        return [TaskStates(str(i), str(f), z[f"s{k}"], z[f"y{k}"], str(kind))
                for k, (i, f, kind) in enumerate(zip(z["ids"], z["families"], z["kinds"]))]

