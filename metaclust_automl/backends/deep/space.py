"""The normalised space the torch backends work in, and neighbour mining in it.

Why a fixed normalisation: the meta-learned update rule (step sizes, temperatures) is
trained on generated tasks and applied to the user's table, so both must look alike
to it. Rows are centred, projected on at most ``max_dims`` principal directions
(cheap training on wide tables such as images) and divided by their root-mean-square
norm, so that a typical row has norm 1 whatever the units of the table.

Neighbours are mined block-wise: the rows are shuffled into blocks of at most
``block`` rows and each row gets its nearest neighbours within its block. Up to
``block`` rows this is the exact k-nearest-neighbour graph; beyond, time grows
linearly in n and memory stays flat (one chunk x block distance matrix at a time).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE = 20_000


@dataclass(frozen=True)
class Space:
    """Centre, projection (None: keep all columns) and scale fitted on a sample."""

    mean: np.ndarray
    components: np.ndarray | None
    scale: float

    @property
    def dims(self) -> int:
        return int(self.mean.size if self.components is None else self.components.shape[0])


def fit_space(X: np.ndarray, max_dims: int = 64, seed: int = 0, sample: int = SAMPLE) -> Space:
    """Fit the normalisation on at most ``sample`` rows (cost bounded in n)."""
    rng = np.random.default_rng(seed)
    S = X if X.shape[0] <= sample else X[rng.choice(X.shape[0], sample, replace=False)]
    S = np.asarray(S, dtype=np.float64)
    mean = S.mean(axis=0)
    C = S - mean
    components = None
    if X.shape[1] > max_dims:
        _, _, vt = np.linalg.svd(C, full_matrices=False)
        components = vt[:max_dims]
        C = C @ components.T
    rms = float(np.sqrt(np.mean(np.einsum("ij,ij->i", C, C))))
    return Space(mean=mean, components=components, scale=rms if rms > 1e-12 else 1.0)


def transform(space: Space, X: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Rows of ``X`` in the normalised space, as float32 (chunked, memory flat in n)."""
    out = np.empty((X.shape[0], space.dims), dtype=np.float32)
    for start in range(0, X.shape[0], chunk):
        block = np.asarray(X[start:start + chunk], dtype=np.float64) - space.mean
        if space.components is not None:
            block = block @ space.components.T
        out[start:start + chunk] = block / space.scale
    return out


def neighbour_count(wanted: int, n: int, k: int) -> int:
    """At most half the rows of an average cluster: a row's neighbours should mostly
    lie in its own cluster, which on a tiny table they cannot if there are many."""
    return int(max(1, min(wanted, n // (2 * max(k, 1)))))


def mine_neighbours(Z: Any, m: int, generator: Any, block: int = 16_384, chunk: int = 2048) -> Any:
    """Indices (n x m, int64 torch tensor on Z's device) of each row's m nearest other rows
    within its block (see the module docstring)."""
    import torch

    n = Z.shape[0]
    m = int(max(1, min(m, n - 1)))
    out = torch.empty((n, m), dtype=torch.long, device=Z.device)
    if n <= block:
        blocks = [torch.arange(n, device=Z.device)]
    else:
        perm = torch.randperm(n, generator=generator).to(Z.device)
        n_blocks = -(-n // block)
        blocks = list(torch.tensor_split(perm, n_blocks))
    for idx in blocks:
        B = Z[idx]
        m_here = min(m, idx.numel() - 1)
        sq = (B * B).sum(1)
        for start in range(0, idx.numel(), chunk):
            q = B[start:start + chunk]
            d2 = sq[start:start + chunk, None] - 2.0 * q @ B.T + sq[None, :]
            rows = torch.arange(q.shape[0], device=Z.device)
            d2[rows, rows + start] = float("inf")  # a row is not its own neighbour
            nearest = d2.topk(m_here, dim=1, largest=False).indices
            if m_here < m:  # tiny last block: repeat the nearest ones
                nearest = nearest[:, torch.arange(m, device=Z.device) % m_here]
            out[idx[start:start + chunk]] = idx[nearest]
    return out
