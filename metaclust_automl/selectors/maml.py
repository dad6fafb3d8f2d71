"""The MAML selector: a network that predicts a configuration's ARI on a table, meta-trained
with MAML so that a few labelled rows can correct it in a few gradient steps.

Inputs are the table's meta-features, the configuration (descriptor + learned embedding)
and, when the configuration was run on the table, its internal indices. Trained across the
knowledge base's tasks with

- a pointwise loss (squared error on ARI), so scores stay on the ARI scale;
- a listwise loss (cross-entropy against softmax(ARI / 0.05) within the task), because
  what matters is which configuration comes first, not the exact values;
- indices shown for a random share of configurations, so the network learns when the
  indices of a configuration are worth trusting on tables like this one (silhouette
  flatters single linkage that splits off one outlier; it does not flatter k-means as much);
- MAML (second order, learned per-tensor inner learning rates on the last layers): half of
  the meta-batch adapts on a few configurations whose ARI is known up to noise (as it
  would be when estimated from 10 to 200 labelled rows) before the loss is taken; the
  other half is scored without adaptation, so zero-shot ranking stays good.

Zero-shot ranking and probing need only numpy; adaptation imports torch.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..knowledge_base import KnowledgeBase
from .base import Query
from .features import index_features, index_vector
from .few_shot import blend_observed, score_on_labels
from .fitting import set_torch_threads, top1_score
from .knn import DEFAULT_K, knn_base
from .nets import (QUALITY_INNER, QUALITY_KEYS, init_quality, quality_head_torch, quality_numpy, quality_torch,
                   quality_trunk_torch, to_torch)
from .training import BaggedNetworkSelector, train_early_stopped

def label_noise(n_labels: int) -> float:
    """Rough standard deviation of an ARI estimated from ``n_labels`` rows."""
    return 0.5 / np.sqrt(max(n_labels, 1))


class MAMLSelector(BaggedNetworkSelector):
    """Meta-learned quality regressor; adapts to a few labels."""

    name: ClassVar[str] = "maml"
    weight_keys: ClassVar[tuple[str, ...]] = (*QUALITY_KEYS, "inner_lr")
    #: learns from known labels itself (the Recommender does not re-rank for it)
    adapts_to_labels: ClassVar[bool] = True

    def __init__(self, steps: int = 600, meta_batch: int = 16, inner_steps: int = 3,
                 hidden: int = 64, emb: int = 8, temperature: float = 0.05, list_weight: float = 1.0,
                 probe_share: float = 0.3, lr: float = 2e-3, val_share: float = 0.15,
                 adapt_configs: int = 8, metric: str = "ari", k: int = DEFAULT_K,
                 weight_decay: float = 1e-5, input_noise: float = 0.0, table_input: bool = True,
                 n_bags: int = 3, random_state: int = 0) -> None:
        self.steps, self.meta_batch, self.inner_steps = steps, meta_batch, inner_steps
        self.hidden, self.emb = hidden, emb
        self.temperature, self.list_weight = temperature, list_weight
        self.probe_share, self.lr, self.val_share = probe_share, lr, val_share
        self.adapt_configs, self.metric, self.k = adapt_configs, metric, k
        self.weight_decay, self.input_noise = weight_decay, input_noise
        self.table_input = table_input
        self.n_bags = n_bags
        self.random_state = random_state

    def _hyper(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("steps", "meta_batch", "inner_steps", "hidden", "emb",
                                               "temperature", "list_weight", "probe_share", "lr",
                                               "val_share", "adapt_configs", "metric", "k",
                                               "weight_decay", "input_noise", "table_input", "n_bags")}

    def _z(self, z: np.ndarray) -> np.ndarray:
        """What the network sees of the meta-features (nothing when ``table_input`` is off: the
        kNN estimate then carries all the table's information, and the network only calibrates
        it per configuration and reads the probes)."""
        return z if self.table_input else np.zeros_like(z)

    def _base(self, z: np.ndarray) -> np.ndarray:
        """kNN estimate for one table from every task of the knowledge base."""
        return knn_base(self.Zkb_, self.Pkb_, z[None], self.k)[0]

    # -- training -------------------------------------------------------------------------
    def _fit_one(self, kb: KnowledgeBase, seed: int) -> tuple[dict[str, np.ndarray], float, list[dict]]:
        import torch

        data = self._training_data(kb, seed, self._z(self.Zkb_))
        dev, rng, Z, P, Pn, CZ, desc, base = data.dev, data.rng, data.Z, data.P, data.Pn, data.CZ, data.desc, data.base
        train, rows = data.train, data.rows
        K = Pn.shape[1]
        params = {k: v.detach().to(dev).requires_grad_(True) for k, v in
                  init_quality(Z.shape[1], desc.shape[1], K, CZ.shape[2], emb=self.emb,
                               hidden=self.hidden, seed=seed).items()}
        target = torch.softmax(P / self.temperature, dim=1)
        B = min(self.meta_batch, train.size)
        noise_gen = torch.Generator(device=dev).manual_seed(seed)

        def step_loss(step: int) -> tuple[Any, dict[str, Any]]:
            batch = torch.tensor(rng.choice(train, size=B, replace=False), device=dev)
            mask = torch.tensor(rng.random((B, K)) < self.probe_share, dtype=torch.float32, device=dev)
            cols, y = self._support(rng, Pn[batch.cpu().numpy()], dev)
            adapt = torch.tensor(rng.random(B) < 0.5, dtype=torch.float32, device=dev)
            zb = Z[batch]
            if self.input_noise > 0:  # blur the meta-features: neighbouring tables should score alike
                zb = zb + self.input_noise * torch.randn(zb.shape, generator=noise_gen, device=dev)
            fast = self._adapt_torch(params, zb, desc, cols, y, base[batch], adapt=adapt)
            pred = quality_head_torch(fast, quality_trunk_torch(params, zb, desc, CZ[batch], mask, base[batch]),
                                      base[batch])
            loss = self._loss(pred, P[batch], target[batch])
            return loss, {"loss": loss.detach()}

        def clamp_inner_lr() -> None:
            with torch.no_grad():
                params["inner_lr"].clamp_(np.log(1e-3), np.log(1.0))

        return train_early_stopped(params, steps=self.steps, lr=self.lr, weight_decay=self.weight_decay,
                                   step_loss=step_loss, after_step=clamp_inner_lr,
                                   validate=lambda p: self._validate(p, Z, desc, Pn, CZ, rows, base))

    @staticmethod
    def _support(rng: np.random.Generator, P_rows: np.ndarray, dev: Any) -> tuple[Any, Any]:
        """A few configurations per task with their ARI as estimated from 10 to 200 labels."""
        import torch

        B, K = P_rows.shape
        size = min(int(rng.choice([3, 5, 8])), K)
        cols = np.stack([rng.choice(K, size=size, replace=False) for _ in range(B)])
        sd = np.array([label_noise(int(m)) for m in rng.choice([10, 50, 200], size=B)])
        y = np.clip(np.take_along_axis(P_rows, cols, 1) + rng.normal(0, 1, cols.shape) * sd[:, None], -1, 1)
        return (torch.tensor(cols, device=dev), torch.tensor(y, dtype=torch.float32, device=dev))

    def _adapt_torch(self, params: dict[str, Any], z: Any, desc: Any, cols: Any, y: Any, base: Any, *,
                     adapt: Any = None, steps: int | None = None, create_graph: bool = True) -> dict[str, Any]:
        """MAML's inner loop, batched: every table gets its own copy of the last layers and
        takes gradient steps on its support configurations (cols [B, S], ARI y [B, S]);
        tables with ``adapt`` = 0 keep the shared weights (zero-shot)."""
        import torch

        B, S = cols.shape
        lrs = torch.exp(params["inner_lr"])
        bs = torch.gather(base, 1, cols)
        h = quality_trunk_torch(params, z, desc, torch.zeros(B, S, self.iscale_.center.size, device=z.device),
                                torch.zeros(B, S, device=z.device), bs, cols)
        fast = dict(params)
        for k in QUALITY_INNER:
            fast[k] = params[k].expand(B, *params[k].shape)
        on = torch.ones(B, device=z.device) if adapt is None else adapt
        for _ in range(self.inner_steps if steps is None else steps):
            inner = torch.mean((quality_head_torch(fast, h, bs, cols) - y) ** 2, 1).sum()
            grads = torch.autograd.grad(inner, [fast[k] for k in QUALITY_INNER], create_graph=create_graph)
            fast = dict(fast)
            for i, (k, g) in enumerate(zip(QUALITY_INNER, grads)):
                scale = (lrs[i] * on).reshape(B, *([1] * (g.dim() - 1)))
                fast[k] = fast[k] - scale * g
        return fast

    def _loss(self, pred: Any, y: Any, target: Any) -> Any:
        import torch

        mse = torch.mean((pred - y) ** 2)
        listwise = -(target * torch.log_softmax(pred / self.temperature, -1)).sum(-1).mean()
        return mse + self.list_weight * self.temperature * listwise

    def _validate(self, params: dict[str, Any], Z: Any, desc: Any, Pn: np.ndarray, CZ: Any, rows: np.ndarray,
                  base: Any) -> float:
        """Mean ARI of the top-1 pick on held-out tasks, averaged over zero-shot and after
        probing the five best-predicted configurations (both are what the selector is for)."""
        import torch

        idx = torch.tensor(rows, device=Z.device)
        n, K = len(rows), Pn.shape[1]
        with torch.no_grad():
            zeros = torch.zeros(n, K, device=Z.device)
            pred0 = quality_torch(params, Z[idx], desc, CZ[idx], zeros, base[idx])
            top = torch.topk(pred0, min(5, K), dim=1).indices
            mask = torch.zeros(n, K, device=Z.device).scatter_(1, top, 1.0)
            pred1 = torch.where(mask > 0, quality_torch(params, Z[idx], desc, CZ[idx], mask, base[idx]), pred0)
        return 0.5 * (top1_score(pred0.cpu().numpy(), Pn[rows]) + top1_score(pred1.cpu().numpy(), Pn[rows]))

    # -- ranking --------------------------------------------------------------------------
    def _zero_shot(self, z: np.ndarray, obs: np.ndarray | None = None, mask: np.ndarray | None = None
                   ) -> np.ndarray:
        """Mean prediction of the bagged networks (with probe observations where mask = 1)."""
        K, I = self.desc_.shape[0], self.iscale_.center.size
        obs = np.zeros((K, I)) if obs is None else obs
        mask = np.zeros(K) if mask is None else mask
        base, zz = self._base(z), self._z(z)
        return np.mean([quality_numpy(p, zz, self.desc_, obs, mask, base) for p in self.bags_], axis=0)

    def predict_scores(self, query: Query) -> np.ndarray:
        kb = self._check()
        z = self.mscale_.transform(np.asarray(query.metafeatures, dtype=np.float64))
        K = len(kb.configs)
        allowed = np.ones(K, bool) if query.feasible is None else np.asarray(query.feasible, bool)
        scores = self._zero_shot(z)
        budget = int(query.budget or 0)
        if budget > 0 and query.probe is not None:
            obs, mask = np.zeros((K, self.iscale_.center.size)), np.zeros(K)
            for c in [c for c in np.argsort(-scores, kind="stable") if allowed[c]][:budget]:
                raw = index_vector(query.probe(int(c)), kb.index_names)
                obs[c] = self.iscale_.transform(index_features(raw))
                mask[c] = 1.0
            scores = np.where(mask > 0, self._zero_shot(z, obs, mask), scores)
        if query.labels is not None:
            scores = self._adapt_to_labels(query, z, scores, allowed)
        return scores

    def _adapt_to_labels(self, query: Query, z: np.ndarray, scores: np.ndarray, allowed: np.ndarray
                         ) -> np.ndarray:
        """Run the most promising configurations, score them on the known labels, take a few
        inner-loop steps on those scores and re-rank; observed scores are blended in with a
        weight that grows with the number of labelled rows."""
        kb = self._check()
        found = score_on_labels(query, kb, scores, allowed, self.adapt_configs)
        if found is None:
            return scores
        cols, observed, m = found
        adapted = self._adapt_numpy(z, np.array(cols), observed)
        self.last_adaptation_ = {"configs": cols, "observed": observed.tolist(), "labels": m}
        return blend_observed(adapted, cols, observed, m)

    def _adapt_numpy(self, z: np.ndarray, cols: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each bagged network takes MAML's inner-loop steps on the labelled scores; their
        adapted predictions are averaged."""
        return np.mean([self._adapt_one(p, z, cols, y) for p in self.bags_], axis=0)

    def _adapt_one(self, params: dict[str, np.ndarray], z: np.ndarray, cols: np.ndarray, y: np.ndarray
                   ) -> np.ndarray:
        import torch

        set_torch_threads()
        p = to_torch(params, requires_grad=True)
        desc = torch.tensor(self.desc_, dtype=torch.float32)
        zt = torch.tensor(self._z(z)[None], dtype=torch.float32)
        base = torch.tensor(self._base(z)[None], dtype=torch.float32)
        fast = self._adapt_torch(p, zt, desc, torch.tensor(cols)[None],
                                 torch.tensor(y, dtype=torch.float32)[None], base, create_graph=False)
        K = self.desc_.shape[0]
        with torch.no_grad():
            pred = quality_torch(fast, zt, desc, torch.zeros(1, K, self.iscale_.center.size),
                                 torch.zeros(1, K), base)[0]
        return pred.numpy().astype(np.float64)

    def explain(self, query: Query, config_index: int) -> str:
        self._check()
        z = self.mscale_.transform(np.asarray(query.metafeatures, dtype=np.float64))
        zero = self._zero_shot(z)[config_index]
        return f"meta-learned regressor: ARI {zero:.2f} expected from the table's meta-features"
