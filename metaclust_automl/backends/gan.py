"""``gan``: ClusterGAN-style clustering (torch).

A GAN whose latent space has a categorical part (one category per cluster) and a
continuous part, with an encoder that maps real rows back to the latent space; each
real row's cluster is the encoder's categorical output. Training, losses, the tiled
categorical head and the early-stopping criterion are documented in ``deep.clustergan``.
The rows are first normalised as for ``prototype`` (``deep.space``); the default
training length is a number of passes over the table, bounded in steps
(``auto_steps``), so small tables stay fast and big ones are sampled; every row is
labelled by the encoder in batches, so memory stays flat in n. Training runs on one
CPU thread (``deep.runtime.training_threads``) or on CUDA when present.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..params import Param
from .base import Backend
from .deep.runtime import DEVICE, VERBOSE
from .partitional import N_CLUSTERS
from .prototype import BATCH, NEIGHBOURS, PER_CLUSTER

#: the default training length: passes over the table, bounded in steps so that a tiny
#: table still trains long enough and a big one is sampled (see ``auto_steps``)
EPOCHS, MIN_STEPS, MAX_STEPS = 50, 200, 1000


def auto_steps(n: int, batch_size: int) -> int:
    """Training steps when ``steps`` is not given: ``EPOCHS`` passes over n rows, within
    [MIN_STEPS, MAX_STEPS]. Digits (1,797 rows, batches of 256) gets 400 steps; the
    70,000-row set 1,000 (under 4 passes: its tiled start is already close)."""
    per_epoch = -(-n // max(1, min(batch_size, n)))
    return int(min(MAX_STEPS, max(MIN_STEPS, EPOCHS * per_epoch)))


class GANBackend(Backend):
    name = "gan"
    description = ("ClusterGAN: categorical + continuous latent, generator, discriminator and an encoder "
                   "whose category labels the real rows (torch)")
    cost = "linear"
    uses_torch = True
    params = (
        N_CLUSTERS,
        Param("steps", "int", default=None, low=10, high=200_000, search_low=300, search_high=4000, log=True,
              help="most training steps (early stopping may end sooner); default: "
                   f"{EPOCHS} passes over the table, at least {MIN_STEPS} and at most {MAX_STEPS} steps"),
        BATCH, NEIGHBOURS, PER_CLUSTER,
        Param("latent_dim", "int", default=10, low=1, high=512, search_low=2, search_high=32, log=True,
              help="size of the continuous part of the latent space"),
        Param("real_weight", "float", default=1.0, low=0.0, high=100.0, search_low=0.1, search_high=10.0, log=True,
              help="weight of the encoder's terms on real rows (neighbour agreement, balance); 0 = pure ClusterGAN"),
        Param("temperature", "float", default=0.1, low=1e-3, high=10.0, search_low=0.03, search_high=0.3, log=True,
              help="temperature of the encoder's categorical head (cosine similarity scale)"),
        Param("beta_c", "float", default=1.0, low=0.0, high=1000.0, search_low=0.1, search_high=10.0, log=True,
              help="weight of recovering the category of generated rows"),
        Param("hidden", "int", default=128, low=8, high=4096, search=False, help="width of the three networks"),
        Param("tol", "float", default=0.01, low=0.0, high=1.0, search=False,
              help="early stopping: share of monitored rows whose label may still change between checks"),
        Param("patience", "int", default=3, low=1, high=1000, search=False,
              help="early stopping: checks in a row below tol"),
        DEVICE, VERBOSE,
    )

    def validate(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from .deep.runtime import check_device

        p = super().validate(params)
        check_device(p["device"])
        return p

    def config(self, params: dict[str, Any], k: int, n: int) -> Any:
        from .deep.clustergan import GanConfig

        steps = params["steps"] if params["steps"] is not None else auto_steps(n, params["batch_size"])
        return GanConfig(k=k, latent_dim=params["latent_dim"], hidden=params["hidden"],
                         beta_c=params["beta_c"], tiles_per_cluster=params["prototypes_per_cluster"],
                         real_weight=params["real_weight"],
                         temperature=params["temperature"], steps=steps,
                         batch_size=params["batch_size"], tol=params["tol"], patience=params["patience"])

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        import torch

        from .deep import clustergan, space
        from .deep.runtime import TrainingProgress, resolve_device, seeded, training_threads

        device = resolve_device(params["device"])
        k = int(min(params["n_clusters"], X.shape[0]))
        cfg = self.config(params, k, X.shape[0])
        with seeded(seed, device) as gen:
            sp = space.fit_space(X, seed=seed)
            Z = torch.from_numpy(space.transform(sp, X)).to(device)
            nb = space.mine_neighbours(Z, space.neighbour_count(params["neighbours"], X.shape[0], k), gen)
            with training_threads(device):
                nets = clustergan.build(Z, nb, cfg, gen, seed)
                with TrainingProgress("gan", cfg.steps, params["verbose"]) as bar:
                    clustergan.train(nets, Z, nb, cfg, gen, progress=bar)
                return clustergan.encode_labels(nets["E"], Z).numpy()
