"""The RL2 selector: a recurrent policy that searches a new table the way it learned to.

At each step the policy (a GRU whose state starts from the table's meta-features) picks a
configuration to run, reads the internal indices that run produced, and updates its
state; when the budget is spent it names its choice. Its state is the memory of what it
has seen on this table, so it can learn, for example, that a flattering silhouette of a
single-linkage run means one outlier was split off, or that k-means at k=4 looking much
better than at k=3 says something about k.

Trained offline on the knowledge base (no clustering is re-run): an episode is a task and a
budget; a probe of configuration c reads C[task, c], the reward is the ARI of the final
choice, P[task, choice]. Probe actions are trained with REINFORCE (baseline: the mean
reward of the batch's episodes with the same budget; entropy bonus); the choice head
predicts every configuration's ARI from the state, trained on the exact expected reward
of a softmax choice (a listwise loss) plus squared error, so its outputs stay on the ARI
scale and serve as the selector's scores. Budgets are drawn per episode, so one policy
serves every budget from 0 (a meta-feature-only pick) up to ``max_budget``.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..knowledge_base import KnowledgeBase
from .base import Query
from .features import index_features, index_vector
from .knn import DEFAULT_K, knn_base
from .nets import (POLICY_KEYS, PolicyNumpy, init_policy, policy_config_torch, policy_h0_torch,
                   policy_heads_torch, policy_step_torch)
from .training import BaggedNetworkSelector, train_early_stopped


class RL2Selector(BaggedNetworkSelector):
    """Recurrent search policy trained with reinforcement learning on P and C."""

    name: ClassVar[str] = "rl2"
    weight_keys: ClassVar[tuple[str, ...]] = POLICY_KEYS

    def __init__(self, steps: int = 600, batch: int = 64, max_budget: int = 8, hidden: int = 96,
                 emb: int = 8, temperature: float = 0.05, lr: float = 2e-3, entropy: float = 0.01,
                 val_share: float = 0.15, metric: str = "ari", k: int = DEFAULT_K, n_bags: int = 3,
                 random_state: int = 0) -> None:
        self.steps, self.batch, self.max_budget = steps, batch, max_budget
        self.hidden, self.emb, self.temperature = hidden, emb, temperature
        self.lr, self.entropy, self.val_share, self.metric = lr, entropy, val_share, metric
        self.k, self.n_bags = k, n_bags
        self.random_state = random_state

    def _hyper(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("steps", "batch", "max_budget", "hidden", "emb",
                                               "temperature", "lr", "entropy", "val_share", "metric", "k",
                                               "n_bags")}

    # -- training ---------------------------------------------------------------------------
    def _fit_one(self, kb: KnowledgeBase, seed: int) -> tuple[dict[str, np.ndarray], float, list[dict]]:
        """One policy; at ranking time the bagged policies see the same probes and their
        outputs are averaged."""
        import torch

        data = self._training_data(kb, seed, self.Zkb_)
        dev, rng, Z, P, CZ, desc, base = data.dev, data.rng, data.Z, data.P, data.CZ, data.desc, data.base
        train, rows = data.train, data.rows
        K = P.shape[1]
        target = torch.softmax(P / self.temperature, 1)
        params = {k: v.detach().to(dev).requires_grad_(True) for k, v in
                  init_policy(Z.shape[1], desc.shape[1], K, CZ.shape[2], emb=self.emb,
                              hidden=self.hidden, seed=seed).items()}
        max_b = min(self.max_budget, K)
        B = min(self.batch, train.size) if train.size >= 8 else self.batch

        def step_loss(step: int) -> tuple[Any, dict[str, Any]]:
            tasks = torch.tensor(rng.choice(train, size=B, replace=train.size < B), device=dev)
            budgets = torch.tensor(rng.integers(0, max_b + 1, size=B), device=dev)
            out = self._rollout(params, Z[tasks], P[tasks], CZ[tasks], desc, base[tasks], budgets, max_b,
                                greedy=False, target=target[tasks])
            reward, logp, ent, sup = out
            adv = torch.zeros_like(reward)
            for b in budgets.unique():
                sel = budgets == b
                adv[sel] = reward[sel] - reward[sel].mean()
            pg = -(adv.detach() * logp).mean()
            loss = sup + pg - self.entropy * ent.mean()
            return loss, {"reward": reward.mean()}

        return train_early_stopped(params, steps=self.steps, lr=self.lr, weight_decay=0.0, step_loss=step_loss,
                                   validate=lambda p: self._validate(p, Z, P, CZ, desc, base, rows, max_b))

    def _rollout(self, params: dict[str, Any], z: Any, P: Any, CZ: Any, desc: Any, base: Any, budgets: Any,
                 max_b: int, *, greedy: bool, target: Any = None) -> tuple[Any, Any, Any, Any]:
        """Run a batch of episodes (one per row of z) to their budgets, in torch.

        Returns (reward = ARI of the final choice, summed log-probability of the probes,
        summed entropy of the probe distributions, supervised loss of the ARI head)."""
        import torch

        Bn, K = P.shape
        rows = torch.arange(Bn, device=z.device)
        qcf, pcf = policy_config_torch(params, desc)
        cf = torch.cat([desc, params["emb"]], 1)
        h = policy_h0_torch(params, z)
        probed = torch.zeros(Bn, K, dtype=torch.bool, device=z.device)
        logp = torch.zeros(Bn, device=z.device)
        ent = torch.zeros(Bn, device=z.device)
        final_q = torch.zeros(Bn, K, device=z.device)
        sup = torch.zeros((), device=z.device)
        n_sup = 0
        for s in range(max_b + 1):
            q, logits = policy_heads_torch(params, h, qcf, pcf, base)
            if target is not None:  # every step's ARI head learns from what it has seen so far
                active = budgets >= s
                mse = ((q - P) ** 2).mean(1)
                lw = -(target * torch.log_softmax(q / self.temperature, 1)).sum(1) * self.temperature
                sup = sup + ((mse + lw) * active).sum() / max(1, int(active.sum()))
                n_sup += 1
            done = budgets == s
            final_q = torch.where(done[:, None], q, final_q)
            if s == max_b:
                break
            going = budgets > s
            logits = logits.masked_fill(probed, -1e9)
            dist = torch.distributions.Categorical(logits=logits)
            a = torch.argmax(logits, 1) if greedy else dist.sample()
            logp = logp + dist.log_prob(a) * going
            ent = ent + dist.entropy() * going
            probed = probed | (torch.nn.functional.one_hot(a, K).bool() & going[:, None])
            left = ((budgets - s - 1).clamp(min=0).float() / max(1, max_b))[:, None]
            x = torch.cat([z, cf[a], CZ[rows, a], torch.ones(Bn, 1, device=z.device), left], 1)
            h = torch.where(going[:, None], policy_step_torch(params, h, x), h)
        choice = torch.argmax(final_q, 1)
        reward = P[rows, choice]
        return reward, logp, ent, sup / max(1, n_sup)

    def _validate(self, params: dict[str, Any], Z: Any, P: Any, CZ: Any, desc: Any, base: Any,
                  rows: np.ndarray, max_b: int) -> float:
        import torch

        idx = torch.tensor(rows, device=Z.device)
        scores = []
        with torch.no_grad():
            for b in sorted({0, max_b // 2, max_b}):
                budgets = torch.full((len(rows),), b, device=Z.device)
                reward, *_ = self._rollout(params, Z[idx], P[idx], CZ[idx], desc, base[idx], budgets, max_b,
                                           greedy=True)
                scores.append(float(reward.mean()))
        return float(np.mean(scores))

    # -- ranking ------------------------------------------------------------------------------
    def predict_scores(self, query: Query) -> np.ndarray:
        kb = self._check()
        nets = [PolicyNumpy(p, self.desc_) for p in self.bags_]
        z = self.mscale_.transform(np.asarray(query.metafeatures, dtype=np.float64))
        K = len(kb.configs)
        allowed = np.ones(K, bool) if query.feasible is None else np.asarray(query.feasible, bool)
        budget = int(query.budget or 0) if query.probe is not None else 0
        budget = min(budget, int(allowed.sum()))
        max_b = max(1, min(self.max_budget, K))
        base = knn_base(self.Zkb_, self.Pkb_, z[None], self.k)[0]
        hs = [net.h0(z) for net in nets]
        self.last_probes_: list[tuple[int, dict[str, float]]] = []
        probed = np.zeros(K, bool)
        for s in range(budget):
            logits = np.mean([net.heads(h, base)[1] for net, h in zip(nets, hs)], axis=0)
            logits = np.where(probed | ~allowed, -np.inf, logits)
            a = int(np.argmax(logits))
            raw = query.probe(a)
            self.last_probes_.append((a, raw))
            probed[a] = True
            obs = self.iscale_.transform(index_features(index_vector(raw, kb.index_names)))
            left = max(0, min(budget, max_b) - s - 1) / max_b
            hs = [net.step(h, np.concatenate([z, net.cf[a], obs, [1.0, left]])) for net, h in zip(nets, hs)]
        return np.mean([net.heads(h, base)[0] for net, h in zip(nets, hs)], axis=0)

    def explain(self, query: Query, config_index: int) -> str:
        probes = getattr(self, "last_probes_", [])
        if probes:
            return f"search policy's expectation after running {len(probes)} configurations"
        return "search policy's expectation from the table's meta-features"
