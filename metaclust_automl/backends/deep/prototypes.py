"""The prototype model and its training loop, written functionally so that the same
code trains the backend and, unrolled and differentiated, meta-trains its update rule.

Model. A row z (in the normalised space of ``space``) goes through a residual network
r(z) = z + W2 leaky_relu(W1 z + b1) + b2 (W2, b2 start at zero, so training starts from
the rows themselves) and is lifted onto the unit sphere, u = (r, 1) / |(r, 1)|. The
lift keeps distance from the centre (plain normalisation of a 2-d table would map
blobs at different radii onto one point). Each prototype p_c is a direction on the
same sphere; a row's soft assignment is softmax_c(u . p_c / tau).

Loss of one mini-batch (rows a, one random mined neighbour b of each):
    -mean log(q_a . q_b)             neighbours should share a prototype, confidently,
    + balance * sum_c m_c log m_c    m = mean q_a: keeps clusters from collapsing,
as in SCAN (Van Gansbeke et al., 2020), here with prototypes instead of a linear head.

Start. The prototypes are seeded by spherical k-means (best of several k-means++
starts) on neighbour-smoothed rows; the backend trains a few such starts and keeps the
one with the best unsupervised objective (``objective``).
"""
from __future__ import annotations

import math
from typing import Any

from .optim import adam_direction
from .rule import partners, schedule_at

EPS = 1e-8


def prototype_count(k: int, per_cluster: int, n: int) -> int:
    """Prototypes to train for ``k`` clusters: ``per_cluster`` each, but tiles of at
    least about 5 rows on average, and never fewer than k."""
    return int(max(k, min(k * per_cluster, n // 5)))


def kmeanspp(U: Any, k: int, generator: Any, sample: int = 10_000) -> Any:
    """k-means++ seeding on the sphere (cosine distance), on at most ``sample`` rows."""
    import torch

    n = U.shape[0]
    if n > sample:
        U = U[torch.randperm(n, generator=generator)[:sample].to(U.device)]
        n = sample
    first = int(torch.randint(n, (1,), generator=generator))
    chosen = [first]
    best = (1.0 - U @ U[first]).clamp_min(0.0)
    for _ in range(1, k):
        weights = best.square().cpu().double()
        if float(weights.sum()) <= 0.0:  # fewer distinct rows than prototypes
            nxt = int(torch.randint(n, (1,), generator=generator))
        else:
            nxt = int(torch.multinomial(weights, 1, generator=generator))
        chosen.append(nxt)
        best = torch.minimum(best, (1.0 - U @ U[nxt]).clamp_min(0.0))
    return U[torch.tensor(chosen, device=U.device)].clone()


def lift(R: Any) -> Any:
    """(r, 1) / |(r, 1)|: rows onto the unit sphere, one dimension up, without losing
    their distance from the centre."""
    import torch
    import torch.nn.functional as F

    return F.normalize(torch.cat([R, torch.ones_like(R[:, :1])], dim=1), dim=1)


def spherical_kmeans(U: Any, k: int, generator: Any, iters: int = 30, restarts: int = 10,
                     sample: int = 20_000) -> Any:
    """Prototypes from spherical k-means (k-means++ seeding, ``iters`` Lloyd steps), the
    best of ``restarts`` runs by total similarity, on at most ``sample`` rows (so the
    cost does not grow with n)."""
    import torch
    import torch.nn.functional as F

    n = U.shape[0]
    if n > sample:
        U = U[torch.randperm(n, generator=generator)[:sample].to(U.device)]
    best, best_fit = None, -float("inf")
    for _ in range(restarts):
        P = kmeanspp(U, k, generator)
        for _ in range(iters):
            nearest = (U @ P.T).argmax(1)
            sums = torch.zeros_like(P).index_add_(0, nearest, U)
            filled = torch.bincount(nearest, minlength=k) > 0
            P = torch.where(filled[:, None], F.normalize(sums, dim=1), P)  # an empty one stays put
        fit = float((U @ P.T).max(1).values.sum())
        if fit > best_fit:
            best, best_fit = P, fit
    return best


def smooth(Z: Any, neighbours: Any, batch: int = 65_536) -> Any:
    """Each row averaged with its mined neighbours: a denoised copy used only to seed
    the prototypes, which makes the start far less dependent on the seed."""
    import torch

    out = torch.empty_like(Z)
    for s in range(0, Z.shape[0], batch):
        out[s:s + batch] = (Z[s:s + batch] + Z[neighbours[s:s + batch]].sum(1)) / (1 + neighbours.shape[1])
    return out


def init_params(Z: Any, k: int, hidden: int, generator: Any, neighbours: Any = None) -> dict[str, Any]:
    """Prototypes seeded by spherical k-means on the lifted (neighbour-smoothed, when
    ``neighbours`` is given) rows; the network starts as the identity."""
    import torch

    e = Z.shape[1]
    dev = Z.device
    bound = 1.0 / math.sqrt(e)
    w1 = (torch.rand((e, hidden), generator=generator) * 2 - 1) * bound
    seed_rows = lift(Z if neighbours is None else smooth(Z, neighbours))
    return {
        "proto": spherical_kmeans(seed_rows, k, generator),
        "w1": w1.to(dev),
        "b1": torch.zeros(hidden, device=dev),
        "w2": torch.zeros((hidden, e), device=dev),
        "b2": torch.zeros(e, device=dev),
    }


def embed(params: dict[str, Any], Z: Any) -> Any:
    """Rows on the unit sphere after the residual network."""
    import torch.nn.functional as F

    h = F.leaky_relu(Z @ params["w1"] + params["b1"], 0.2)
    return lift(Z + h @ params["w2"] + params["b2"])


def logits(params: dict[str, Any], Z: Any, tau: Any) -> Any:
    import torch.nn.functional as F

    return embed(params, Z) @ F.normalize(params["proto"], dim=1).T / tau


def batch_loss(params: dict[str, Any], Za: Any, Zb: Any, tau: Any, balance: Any) -> Any:
    import torch

    q = torch.softmax(logits(params, torch.cat([Za, Zb]), tau), dim=1)  # one pass for both
    qa, qb = q[:Za.shape[0]], q[Za.shape[0]:]
    consistency = -torch.log((qa * qb).sum(1).clamp_min(EPS)).mean()
    m = qa.mean(0)
    return consistency + balance * (m * torch.log(m.clamp_min(EPS))).sum()


def batches(n: int, batch_size: int, steps: int, generator: Any) -> Any:
    """Row indices of ``steps`` mini-batches: successive random permutations of the rows
    cut into batches (epochs), so every row is seen once per pass."""
    import torch

    size = max(2, min(batch_size, n))
    per_epoch = max(1, n // size)
    done = 0
    while done < steps:
        perm = torch.randperm(n, generator=generator)
        for s in range(per_epoch):
            if done == steps:
                return
            yield perm[s * size:(s + 1) * size]
            done += 1


def train(params: dict[str, Any], Z: Any, neighbours: Any, logs: dict[str, Any], *, steps: int,
          batch_size: int, generator: Any, differentiable: bool = False, progress: Any = None
          ) -> dict[str, Any]:
    """Run the update rule ``logs`` (see ``rule``) for ``steps`` mini-batch steps.

    The number of steps does not grow with n: small tables are passed over many times,
    big ones are sampled. With ``differentiable`` the graph through every step is kept,
    so the result can be differentiated with respect to ``logs`` (meta-training).
    Batches and neighbour picks come from ``generator`` (CPU): one seed gives one
    order on any device.
    """
    import torch

    m = neighbours.shape[1]
    keys = list(params)
    params = {k: (v if v.requires_grad else v.detach().requires_grad_(True)) for k, v in params.items()}
    m1 = {k: torch.zeros_like(v) for k, v in params.items()}
    m2 = {k: torch.zeros_like(v) for k, v in params.items()}
    host_logs = {k: v.detach().cpu() for k, v in logs.items()}  # partner counts without a device sync per step
    for step, rows in enumerate(batches(Z.shape[0], batch_size, steps, generator), start=1):
        at = (step - 1) / max(steps - 1, 1)
        sched = schedule_at(logs, at)
        picks = torch.randint(partners(schedule_at(host_logs, at)["reach"], m), (rows.numel(),),
                              generator=generator)
        rows_d = rows.to(Z.device)
        nb = neighbours[rows_d, picks.to(Z.device)]
        loss = batch_loss(params, Z[rows_d], Z[nb], sched["tau"], sched["balance"])
        grads = torch.autograd.grad(loss, [params[k] for k in keys], create_graph=differentiable)
        new = {}
        for key, g in zip(keys, grads):
            if not differentiable:
                g = g.detach()
            m1[key], m2[key], direction = adam_direction(m1[key], m2[key], g, step)
            lr = sched["lr_proto"] if key == "proto" else sched["lr_net"]
            new[key] = params[key] - lr * direction
        if differentiable:
            params = new
        else:
            params = {k: v.detach().requires_grad_(True) for k, v in new.items()}
            if progress is not None:
                progress.advance(1, f"loss {float(loss.detach()):.3f}")
    return {k: (v if differentiable else v.detach()) for k, v in params.items()}


def objective(params: dict[str, Any], Z: Any, neighbours: Any, generator: Any, tau: float = 0.1,
              sample: int = 20_000) -> float:
    """Unsupervised score of a trained model, lower is better: how much rows disagree
    with all their neighbours, minus the entropy of the cluster sizes (the training
    loss with balance 1 and a fixed temperature, on every neighbour), on at most
    ``sample`` rows. Used to pick the best of several restarts; on digits it ranks
    restarts much as their accuracy does."""
    import torch

    n = Z.shape[0]
    rows = torch.arange(n) if n <= sample else torch.randperm(n, generator=generator)[:sample]
    rows = rows.to(Z.device)
    with torch.no_grad():
        q = torch.softmax(logits(params, Z[rows], tau), dim=1)
        disagreement = 0.0
        for j in range(neighbours.shape[1]):
            qn = torch.softmax(logits(params, Z[neighbours[rows, j]], tau), dim=1)
            disagreement += float(-torch.log((q * qn).sum(1).clamp_min(EPS)).mean())
        m = q.mean(0)
        entropy = float(-(m * torch.log(m.clamp_min(EPS))).sum())
    return disagreement / neighbours.shape[1] - entropy


def assign(params: dict[str, Any], Z: Any, active: Any = None, batch: int = 8192) -> Any:
    """Hard labels (index of the nearest active prototype) of all rows, in batches."""
    import torch
    import torch.nn.functional as F

    P = F.normalize(params["proto"], dim=1)
    if active is not None:
        P = P[active]
    out = torch.empty(Z.shape[0], dtype=torch.long)
    with torch.no_grad():
        for start in range(0, Z.shape[0], batch):
            sims = embed(params, Z[start:start + batch]) @ P.T
            out[start:start + batch] = sims.argmax(1).cpu()
    return out


def embed_all(params: dict[str, Any], Z: Any, batch: int = 8192) -> Any:
    """All rows after the learned network (float32 CPU tensor), in batches."""
    import torch

    with torch.no_grad():
        return torch.cat([embed(params, Z[s:s + batch]).cpu() for s in range(0, Z.shape[0], batch)])
