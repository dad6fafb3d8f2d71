"""Helpers of fitting a selector: task splits by group for validation, the top-1 score the
validation tracks, and torch's thread count."""
from __future__ import annotations

import os

import numpy as np

from ..knowledge_base import KnowledgeBase


def group_split(kb: KnowledgeBase, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation task indices, split by task group so that variants of one
    source table (class subsets, noise levels) never sit on both sides."""
    groups = [t.group or t.id for t in kb.tasks]
    uniq = sorted(set(groups))
    T = len(groups)
    if T < 6 or share <= 0:
        return np.arange(T), np.arange(0)
    rng = np.random.default_rng(seed)
    if len(uniq) < 4:  # too few groups to hold any out: split tasks instead
        perm = rng.permutation(T)
        nval = max(1, int(round(share * T)))
        return np.sort(perm[nval:]), np.sort(perm[:nval])
    order = rng.permutation(len(uniq))
    val_groups: set[str] = set()
    count = 0
    for g in order:
        if count >= share * T:
            break
        val_groups.add(uniq[g])
        count += groups.count(uniq[g])
    val = np.array([i for i, g in enumerate(groups) if g in val_groups], dtype=int)
    train = np.array([i for i, g in enumerate(groups) if g not in val_groups], dtype=int)
    if train.size == 0:
        return np.arange(T), np.arange(0)
    return train, val


def top1_score(pred: np.ndarray, P: np.ndarray) -> float:
    """Mean ARI of the top-1 pick of each row of ``pred`` (what the validation tracks)."""
    return float(np.mean(P[np.arange(P.shape[0]), np.argmax(pred, axis=1)]))


def set_torch_threads() -> None:
    """One thread unless METACLUST_TORCH_THREADS says otherwise: the networks are small,
    and on a shared machine extra threads mostly wait on each other (measured: a training
    step ran 20 to 40 times slower with two threads on two busy cores)."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("METACLUST_TORCH_THREADS", "1"))))
