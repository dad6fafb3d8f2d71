"""The networks and training loop of the ``gan`` backend (ClusterGAN, Mukherjee et al., 2019).

Latent z = (z_n, one_hot(c)): continuous noise z_n ~ N(0, sigma^2) and a categorical
part c, one per cluster. The generator G maps z to a row; the discriminator D tells
real rows from generated ones; the encoder E maps a row back to (z_n, logits of c).
A row's cluster is the encoder's categorical output on the real row.

Losses (all from logits, so none takes log(0)):
- D: binary cross-entropy with logits, real rows -> 1, generated rows -> 0;
- G and E: adversarial BCE (generated -> 1), plus latent recovery on generated rows
  (``beta_n`` * MSE of z_n, ``beta_c`` * cross-entropy of c) as in ClusterGAN, plus,
  weighted by ``real_weight``, terms on the real rows: a row and one of its nearest
  neighbours should get the same category (with a balance term against collapse,
  as in ``prototypes``), and the row should come back through G(E(row)) (cycle).
  A pure ClusterGAN (``real_weight`` = 0) separates few clusters on small tables such
  as digits; the real-row terms are what make the encoder's categories follow the data.

The encoder's categorical head is a tiled prototype head. Each category owns a few
prototypes (tiles; ``tiles_per_cluster`` each), and a category's logit is the cosine
similarity, divided by a temperature, between the lifted encoder features and its
nearest tile. The tiles start from spherical k-means on neighbour-smoothed rows and
are given to categories by a spectral clustering of the graph of mined neighbour
links between them (``tile_groups``), so a curved cluster, which one prototype cannot
describe, is a chain of tiles under one category. This start is what makes the result
stable: with one prototype per category the encoder started from a k-means-like
split and digits reached ACC 0.70 to 0.81 depending on the seed (issue 20); with
tiles the start is at 0.83 to 0.93 and training adds about 0.01. The weights of the
terms keep it there: ``beta_c`` = 1 (ClusterGAN's 10 let the encoder learn the
generator's early, meaningless categories and cost up to 0.1 ACC on some seeds) and
a small learning rate of the tiles (``lr_head``), so that a tile does not drift into
another category's rows.

Early stopping: every ``check_every`` steps the encoder labels a fixed monitor sample
of real rows; training stops when the share of monitor rows whose label changed since
the previous check stays below ``tol`` for ``patience`` checks in a row (the
clustering has settled), or after ``steps`` steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import prototypes
from .optim import Adam

MONITOR_ROWS = 2048
#: Adam's betas for all three networks, as in ClusterGAN
GAN_BETAS = (0.5, 0.9)


@dataclass
class GanConfig:
    k: int
    latent_dim: int = 10
    sigma: float = 0.1
    hidden: int = 128
    beta_n: float = 10.0
    beta_c: float = 1.0
    real_weight: float = 1.0
    balance: float = 1.0
    cycle_weight: float = 1.0
    temperature: float = 0.1
    lr: float = 2e-4
    lr_head: float = 0.003
    tiles_per_cluster: int = 5
    steps: int = 1000
    batch_size: int = 256
    check_every: int = 50
    patience: int = 3
    tol: float = 0.01


def tile_count(cfg: GanConfig, n: int) -> int:
    """Latent categories (tiles) for ``cfg.k`` clusters on n rows (``prototypes.prototype_count``)."""
    return prototypes.prototype_count(cfg.k, cfg.tiles_per_cluster, n)


def tile_groups(Z: Any, nb: Any, k: int, tiles: int, generator: Any, seed: int) -> tuple[Any, Any]:
    """The start of the categorical head: ``tiles`` prototypes by spherical k-means on the
    lifted, neighbour-smoothed rows, and the category of each from a spectral clustering
    of the tile graph (``merge.group_tiles``: tiles linked by mined neighbour pairs), so
    that a curved cluster is a chain of tiles under one category. Every category keeps
    at least one tile. Returns (prototypes, category of each tile) on Z's device."""
    import numpy as np
    import torch

    from . import merge

    P = prototypes.spherical_kmeans(prototypes.lift(prototypes.smooth(Z, nb)), tiles, generator)
    nearest = torch.cat([(prototypes.lift(Z[s:s + 8192]) @ P.T).argmax(1).cpu()
                         for s in range(0, Z.shape[0], 8192)]).numpy()
    grouped = merge.group_tiles(nearest, nb.cpu().numpy(), k, seed)
    group = np.arange(tiles) % k  # tiles that hold no row: spread over the categories
    for t in np.unique(nearest):
        group[t] = grouped[np.flatnonzero(nearest == t)[0]]
    for c in range(k):  # a category without a tile takes one from the biggest category
        if not np.any(group == c):
            group[np.flatnonzero(group == np.bincount(group, minlength=k).argmax())[0]] = c
    return P, torch.from_numpy(group.astype(np.int64)).to(Z.device)


def build(Z: Any, nb: Any, cfg: GanConfig, generator: Any, seed: int = 0) -> dict[str, Any]:
    """G, D and E (with its tiled prototype head, ``tile_groups``) on Z's device; all
    weights drawn under the caller's seed, the prototypes from ``generator``."""
    import torch
    from torch import nn

    e = Z.shape[1]

    def mlp(i: int, o: int) -> nn.Module:
        return nn.Sequential(nn.Linear(i, cfg.hidden), nn.LeakyReLU(0.2), nn.Linear(cfg.hidden, cfg.hidden),
                             nn.LeakyReLU(0.2), nn.Linear(cfg.hidden, o))

    P, group = tile_groups(Z, nb, cfg.k, tile_count(cfg, Z.shape[0]), generator, seed)

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = mlp(e, e + cfg.latent_dim)
            last = self.trunk[-1]
            nn.init.zeros_(last.weight)  # starts as the identity on the features
            nn.init.zeros_(last.bias)
            self.proto = nn.Parameter(P)
            # log-membership of each tile in each category: 0 in, a large negative number out
            self.register_buffer("log_member", (nn.functional.one_hot(group, cfg.k).T.float() - 1.0) * 1e4)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = self.trunk(x)
            feats = prototypes.lift(x + h[:, :e])
            sims = feats @ nn.functional.normalize(self.proto, dim=1).T / cfg.temperature
            # a category's logit: its nearest tile's (a sum over tiles would favour
            # categories with many tiles near a row)
            return h[:, e:], (sims[:, None, :] + self.log_member[None]).amax(dim=2)

    return {"G": mlp(cfg.latent_dim + cfg.k, e).to(Z.device), "D": mlp(e, 1).to(Z.device),
            "E": Encoder().to(Z.device)}


def sample_latent(n: int, tiles: int, cfg: GanConfig, generator: Any, device: Any) -> tuple[Any, Any, Any]:
    """n latent draws: z_n ~ N(0, sigma^2) and a uniform one-hot category among ``tiles``."""
    import torch

    c = torch.randint(tiles, (n,), generator=generator)
    zn = cfg.sigma * torch.randn((n, cfg.latent_dim), generator=generator)
    z = torch.cat([zn, torch.nn.functional.one_hot(c, tiles).float()], dim=1)
    return z.to(device), zn.to(device), c.to(device)


def encode_labels(E: Any, Z: Any, batch: int = 8192) -> Any:
    """Hard categories of real rows, in batches: the clustering."""
    import torch

    with torch.no_grad():
        return torch.cat([E(Z[s:s + batch])[1].argmax(1).cpu() for s in range(0, Z.shape[0], batch)])


def train(nets: dict[str, Any], Z: Any, nb: Any, cfg: GanConfig, generator: Any, progress: Any = None
          ) -> dict[str, Any]:
    """Alternate D and G/E steps until the labels settle (see the module docstring).
    Returns a small report: steps run, whether it stopped early, last losses."""
    import torch
    import torch.nn.functional as F

    G, D, E = nets["G"], nets["D"], nets["E"]
    dev = Z.device
    head = [E.proto]
    rest = [p for name, p in E.named_parameters() if name != "proto"]
    opt_ge = Adam([(list(G.parameters()) + rest, cfg.lr), (head, cfg.lr_head)], betas=GAN_BETAS)
    opt_d = Adam([(D.parameters(), cfg.lr)], betas=GAN_BETAS)
    n = Z.shape[0]
    monitor = torch.randperm(n, generator=generator)[:MONITOR_ROWS].to(dev)
    previous = encode_labels(E, Z[monitor])
    calm, stopped_early, step = 0, False, 0
    changes: list[float] = []
    losses = {"d": float("nan"), "ge": float("nan")}
    m = nb.shape[1]
    for step, rows in enumerate(prototypes.batches(n, cfg.batch_size, cfg.steps, generator), start=1):
        B = rows.numel()
        picks = torch.randint(m, (B,), generator=generator)
        rows_d = rows.to(dev)
        xr, xj = Z[rows_d], Z[nb[rows_d, picks.to(dev)]]
        z, zn, c = sample_latent(B, cfg.k, cfg, generator, dev)
        targets = torch.cat([torch.ones((B, 1), device=dev), torch.zeros((B, 1), device=dev)])

        # one pass of each network over the rows it sees (fewer, larger operations)
        fake = G(z)
        loss_d = 2 * F.binary_cross_entropy_with_logits(D(torch.cat([xr, fake.detach()])), targets)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        real = cfg.real_weight > 0
        zn_all, logits_all = E(torch.cat([fake, xr, xj]) if real else fake)
        zn_hat, c_logits = zn_all[:B], logits_all[:B]
        loss_ge = (F.binary_cross_entropy_with_logits(D(fake), targets[:B])
                   + cfg.beta_n * F.mse_loss(zn_hat, zn) + cfg.beta_c * F.cross_entropy(c_logits, c))
        if real:
            zr, lr_, lj = zn_all[B:2 * B], logits_all[B:2 * B], logits_all[2 * B:]
            qa, qb = torch.softmax(lr_, 1), torch.softmax(lj, 1)
            consistency = -torch.log((qa * qb).sum(1).clamp_min(prototypes.EPS)).mean()
            mean_q = qa.mean(0)
            negentropy = (mean_q * torch.log(mean_q.clamp_min(prototypes.EPS))).sum()
            cycle = F.mse_loss(G(torch.cat([zr, qa], 1)), xr)
            loss_ge = loss_ge + cfg.real_weight * (consistency + cfg.balance * negentropy) + cfg.cycle_weight * cycle
        opt_ge.zero_grad()
        loss_ge.backward()
        opt_ge.step()
        losses = {"d": float(loss_d.detach()), "ge": float(loss_ge.detach())}
        if progress is not None:
            progress.advance(1, f"D {losses['d']:.3f}  G/E {losses['ge']:.3f}")
        if step % cfg.check_every == 0:
            current = encode_labels(E, Z[monitor])
            changed = float((current != previous).float().mean())
            changes.append(round(changed, 5))
            previous = current
            calm = calm + 1 if changed < cfg.tol else 0
            if calm >= cfg.patience:
                stopped_early = True
                break
    return {"steps": step, "stopped_early": stopped_early, "label_changes": changes, **losses}
