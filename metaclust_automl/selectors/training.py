"""What the two network selectors (maml, rl2) share in training: bagging, the tensors each
network learns from, and the early-stopped optimisation loop.

Kept apart from ``features`` and ``state`` (which ``knn`` imports) because it builds on ``knn``'s base
estimate; torch is imported only inside the functions, when training runs.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from ..errors import ConfigError, KnowledgeBaseError
from ..knowledge_base import KnowledgeBase
from .base import Selector
from .features import Standardiser, config_descriptors, index_features, performance
from .fitting import group_split, set_torch_threads
from .state import kb_fingerprint, load_state, require_tensors, save_state
from .knn import knn_base, task_groups
from .nets import device, to_numpy

#: optimisation steps between two validations (and chances to keep the weights)
VALIDATE_EVERY = 50
#: gradient norm clip of every optimisation step
CLIP_NORM = 5.0

_Self = TypeVar("_Self", bound="BaggedNetworkSelector")


class BaggedNetworkSelector(Selector):
    """A selector made of ``n_bags`` networks, each early-stopped on its own held-out task
    groups, that rank together (the average of their outputs): a validation set of a few
    groups is a noisy judge of when to stop, and the average is steadier than any one.

    Subclasses store their parameters (``metric``, ``k``, ``n_bags``, ``val_share``,
    ``random_state``, ...) unchanged in ``__init__``, name the tensors every network needs in
    ``weight_keys``, and implement ``_hyper`` (the constructor's arguments that the weights
    depend on) and ``_fit_one``. What fitting learns ends in ``_``."""

    name: ClassVar[str]
    #: tensors every bagged network must have in a weights file
    weight_keys: ClassVar[tuple[str, ...]]
    metric: str
    k: int
    n_bags: int
    val_share: float
    random_state: int

    # -- set-up shared by fit and load --------------------------------------------------
    def _setup(self, kb: KnowledgeBase, mscale: Standardiser, iscale: Standardiser) -> None:
        self.kb_ = kb
        self.mscale_, self.iscale_ = mscale, iscale
        self.desc_, _ = config_descriptors(kb)
        self.fingerprint_ = kb_fingerprint(kb)
        self.Zkb_ = mscale.transform(kb.M)
        self.Pkb_ = performance(kb, self.metric)

    def _check(self) -> KnowledgeBase:
        if getattr(self, "kb_", None) is None or not hasattr(self, "params_"):
            raise ConfigError(f"the {self.name} selector is not fitted; call fit(kb) or load() first")
        return self.kb_

    # -- training -------------------------------------------------------------------------
    def fit(self: _Self, kb: KnowledgeBase) -> _Self:
        """Train ``n_bags`` networks (seeds ``random_state``, ``random_state + 1000``, ...) and
        keep them all."""
        seed = int(self.random_state)
        set_torch_threads()
        self._setup(kb, Standardiser.fit(kb.M), Standardiser.fit(index_features(kb.C)))
        self.bags_, scores, self.history_ = [], [], []
        for b in range(max(1, self.n_bags)):
            params, score, history = self._fit_one(kb, seed + 1000 * b)
            self.bags_.append(params)
            scores.append(score)
            self.history_.extend({"bag": b, **h} for h in history[-3:])
        self.params_ = self.bags_[0]
        self.val_top1_ = float(np.mean(scores))
        return self

    def _fit_one(self, kb: KnowledgeBase, seed: int) -> tuple[dict[str, np.ndarray], float, list[dict]]:
        """One network: (its best parameters, their validation score, the validation history)."""
        raise NotImplementedError

    def _hyper(self) -> dict[str, Any]:
        """The constructor's arguments, saved with the weights."""
        raise NotImplementedError

    def _training_data(self, kb: KnowledgeBase, seed: int, z: np.ndarray) -> TrainingData:
        """Seed torch and build one network's training tensors; ``z`` is what the network sees
        of the knowledge base's meta-features."""
        import torch

        torch.manual_seed(seed)
        dev = device()
        Pn = self.Pkb_
        train, val = group_split(kb, self.val_share, seed)
        groups = task_groups(kb)
        # every task's kNN estimate from the training tasks of other groups, as a new table would get it
        base = knn_base(self.Zkb_[train], Pn[train], self.Zkb_, self.k, exclude=groups[:, None] == groups[train][None])

        def tensor(a: np.ndarray) -> Any:
            return torch.tensor(a, dtype=torch.float32, device=dev)

        return TrainingData(dev=dev, rng=np.random.default_rng(seed), Z=tensor(z), Pn=Pn, P=tensor(Pn),
                            CZ=tensor(self.iscale_.transform(index_features(kb.C))), desc=tensor(self.desc_),
                            train=train, val=val, base=tensor(base))

    # -- files ----------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> None:
        """Every bagged network's tensors as ``bag{b}.{name}``, the rest as JSON."""
        self._check()
        save_state(directory, self.name, {
            "kb_fingerprint": self.fingerprint_, "hyper": self._hyper(),
            "metafeature_scaler": self.mscale_.to_dict(), "index_scaler": self.iscale_.to_dict(),
            "validation_top1": getattr(self, "val_top1_", None), "history": getattr(self, "history_", [])[-5:],
        }, {f"bag{b}.{k}": v for b, p in enumerate(self.bags_) for k, v in p.items()})

    @classmethod
    def load(cls: type[_Self], directory: str | os.PathLike, kb: KnowledgeBase) -> _Self:
        meta, tensors = load_state(directory, cls.name, kb)
        n = int(meta["hyper"].get("n_bags", 1))
        bags = [{k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(f"bag{b}.")} for b in range(n)]
        for bag in bags:
            require_tensors(bag, list(cls.weight_keys), str(directory))
        self = cls(**meta["hyper"])
        self._setup(kb, Standardiser.from_dict(meta["metafeature_scaler"]),
                    Standardiser.from_dict(meta["index_scaler"]))
        if bags[0]["emb"].shape[0] != len(kb.configs):
            raise KnowledgeBaseError(f"{directory}: weights cover {bags[0]['emb'].shape[0]} configurations, "
                                     f"the knowledge base has {len(kb.configs)}; retrain the selector")
        self.bags_ = bags
        self.params_ = bags[0]
        self.val_top1_ = meta.get("validation_top1")
        self._check_weights(directory)
        return self

    def _check_weights(self, directory: str | os.PathLike) -> None:
        """One zero-shot ranking of a known task: weights of the wrong shapes fail here, with
        a KnowledgeBaseError, instead of on the user's table as an internal error."""
        from .base import Query

        kb = self._check()
        try:
            scores = np.asarray(self.predict_scores(Query(metafeatures=kb.M[0].copy())), dtype=np.float64)
        except (ValueError, IndexError, KeyError, TypeError, RuntimeError) as exc:
            raise KnowledgeBaseError(f"{directory}: the weights do not fit the network ({type(exc).__name__}: "
                                     f"{str(exc)[:120]}); retrain the selector") from None
        if scores.shape != (len(kb.configs),) or not np.all(np.isfinite(scores)):
            raise KnowledgeBaseError(f"{directory}: the weights give no usable scores; retrain the selector")

    def get_info(self) -> dict[str, Any]:
        return {"name": self.name, **self._hyper(), "validation_top1": getattr(self, "val_top1_", None)}


@dataclass
class TrainingData:
    """One network's view of the knowledge base, as torch tensors on ``dev``."""

    dev: Any
    #: the numpy generator of this network's sampling (batches, probes, budgets)
    rng: np.random.Generator
    #: meta-features [T, M] as the network sees them
    Z: Any
    #: performance matrix [T, K], numpy and torch
    Pn: np.ndarray
    P: Any
    #: standardised internal index features [T, K, I]
    CZ: Any
    #: configuration descriptors [K, D]
    desc: Any
    #: task indices trained on and held out (held-out groups)
    train: np.ndarray
    val: np.ndarray
    #: every task's kNN estimate [T, K] from the training tasks of other groups
    base: Any

    @property
    def rows(self) -> np.ndarray:
        """The tasks that judge when to stop (the training tasks when none are held out)."""
        return self.val if self.val.size else self.train


def train_early_stopped(params: dict[str, Any], *, steps: int, lr: float, weight_decay: float,
                        step_loss: Callable[[int], tuple[Any, dict[str, Any]]],
                        validate: Callable[[dict[str, Any]], float],
                        after_step: Callable[[], None] | None = None
                        ) -> tuple[dict[str, np.ndarray], float, list[dict[str, float]]]:
    """Adam with a cosine schedule and clipped gradients on ``step_loss(step)`` (the loss and
    named scalars for the history); every ``VALIDATE_EVERY`` steps and at the end the weights
    are validated and kept when they beat the best so far, the starting point included (the
    networks start out ranking like kNN; keep that unless training beats it).

    Returns (best parameters as numpy, their validation score, the validation history)."""
    import torch

    opt = torch.optim.Adam(params.values(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    best = validate(params)
    best_state = to_numpy(params)
    history = [{"step": 0, "val_top1": float(best)}]
    for step in range(steps):
        loss, info = step_loss(step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), CLIP_NORM)
        opt.step()
        sched.step()
        if after_step is not None:
            after_step()
        if (step + 1) % VALIDATE_EVERY == 0 or step + 1 == steps:
            score = validate(params)
            history.append({"step": step + 1, "val_top1": score, **{k: float(v) for k, v in info.items()}})
            if score > best:
                best, best_state = score, to_numpy(params)
    return best_state, float(best), history
