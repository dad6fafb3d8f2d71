"""``prototype``: clustering by learnable prototypes with a meta-learned update rule (torch).

The rows are normalised (``deep.space``), each row's nearest neighbours are mined, and
a small residual network plus a set of prototypes are trained by mini-batch gradient
steps so that neighbours share a prototype (soft assignment with a temperature;
``deep.prototypes``); the best of a few starts by the unsupervised objective is kept.
At the end the assignment is hardened (nearest prototype). With
``prototypes_per_cluster`` above 1, each prototype holds a small tile of rows and the
tiles are grouped into ``n_clusters`` clusters through the neighbour links between
them (``deep.merge.group_tiles``), which lets clusters be curved or elongated. Then
clusters that are not needed are switched off (nearly empty ones, and pairs that form
a single mode; ``deep.merge``), so ``n_clusters`` is an upper bound rather than a
promise.

``rule=meta`` (default) trains with the step-size, temperature, balance and
neighbour-reach schedules meta-learned across the built-in corpus and generated tasks
(``training/prototype_rule.py``; shipped in ``data/weights/prototype_rule.safetensors``); the
reach at the end of training also picks which neighbour links group the tiles.
``rule=plain`` uses constant conventional values and every mined neighbour. If the
weights file is missing or broken the backend warns and runs the plain rule.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..params import Param
from .base import Backend
from .deep.runtime import DEVICE, VERBOSE
from .partitional import N_CLUSTERS

STEPS = Param("steps", "int", default=200, low=10, high=100_000, search_low=100, search_high=800, log=True,
              help="mini-batch training steps (independent of n: small tables get many passes)")
BATCH = Param("batch_size", "int", default=256, low=8, high=65_536, search=False, help="rows per mini-batch")
NEIGHBOURS = Param("neighbours", "int", default=10, low=1, high=200, search_low=3, search_high=40, log=True,
                   help="nearest neighbours mined per row; a row and one of them should share a cluster "
                        "(the rule's reach decides how many of the nearest ones pair up)")
PER_CLUSTER = Param("prototypes_per_cluster", "int", default=5, low=1, high=100, search_low=1, search_high=10,
                    help="prototypes trained per cluster; above 1 each holds a tile of rows and tiles are "
                         "grouped into clusters through their neighbour links (follows curved clusters)")
RESTARTS = Param("restarts", "int", default=3, low=1, high=100, search=False,
                 help="independent starts; the one with the best unsupervised training objective is kept")
HIDDEN = Param("hidden", "int", default=128, low=8, high=4096, search=False,
               help="width of the residual feature network")


class PrototypeBackend(Backend):
    name = "prototype"
    description = ("learnable prototypes on a residual network, trained so that neighbours share one; "
                   "meta-learned update rule; switches off unneeded prototypes (torch)")
    cost = "linear"
    uses_torch = True
    params = (
        N_CLUSTERS,
        Param("rule", "categorical", default="meta", choices=("meta", "plain"),
              help="update rule: meta-learned schedules (shipped weights) or constant plain ones (deep.rule)"),
        PER_CLUSTER, STEPS, BATCH, NEIGHBOURS, HIDDEN, RESTARTS,
        Param("switch_off", "bool", default=True,
              help="switch off prototypes that are nearly empty or redundant (n_clusters becomes an upper bound)"),
        Param("min_share", "float", default=0.01, low=0.0, high=0.5, search_low=0.001, search_high=0.05, log=True,
              help="prototypes holding less than this fraction of the rows are switched off"),
        Param("merge_valley", "float", default=0.85, low=0.0, high=1.0, search_low=0.5, search_high=1.0,
              help="merge two neighbouring clusters when the density between them stays at least this "
                   "fraction of the lower peak (1 = merge only clusters that form one mode)"),
        DEVICE, VERBOSE,
    )

    def validate(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from .deep.runtime import check_device

        p = super().validate(params)
        check_device(p["device"])
        return p

    #: the rule file; tests point it elsewhere
    rule_path: Path | None = None
    _rules: dict[tuple[str, str], Any] = {}
    _lock = threading.Lock()

    def update_rule(self, name: str) -> Any:
        """The plain or meta-learned rule, loaded once per process and path."""
        from .deep import rule as rule_mod

        path = self.rule_path or rule_mod.DEFAULT_PATH
        key = (name, str(path))
        with self._lock:
            if key not in self._rules:
                self._rules[key] = rule_mod.rule_for(name, path)
            return self._rules[key]

    def cluster(self, X: np.ndarray, params: dict[str, Any], seed: int) -> np.ndarray:
        import torch

        from .deep import merge, prototypes, space
        from .deep.rule import final_links
        from .deep.runtime import TrainingProgress, resolve_device, seeded, training_threads

        device = resolve_device(params["device"])
        n = X.shape[0]
        k = int(min(params["n_clusters"], n))
        n_proto = prototypes.prototype_count(k, params["prototypes_per_cluster"], n)
        rule = self.update_rule(params["rule"])
        with seeded(seed, device) as gen:
            sp = space.fit_space(X, seed=seed)
            Z = torch.from_numpy(space.transform(sp, X)).to(device)
            nb = space.mine_neighbours(Z, space.neighbour_count(params["neighbours"], X.shape[0], k), gen)
            with training_threads(device):
                logs = rule.tensors(device)
                links = final_links(logs, nb)
                best, best_score = None, float("inf")
                with TrainingProgress(f"prototype ({params['rule']} rule)", params["steps"] * params["restarts"],
                                      params["verbose"]) as bar:
                    for _ in range(params["restarts"]):
                        p0 = prototypes.init_params(Z, n_proto, params["hidden"], gen, nb)
                        fitted = prototypes.train(p0, Z, nb, logs, steps=params["steps"],
                                                  batch_size=params["batch_size"], generator=gen, progress=bar)
                        score = prototypes.objective(fitted, Z, links, gen)
                        if best is None or score < best_score:
                            best, best_score = fitted, score
                fitted = best
                labels = prototypes.assign(fitted, Z).numpy()
                if n_proto > k:
                    labels = merge.group_tiles(labels, links.cpu().numpy(), k, seed)
                if params["switch_off"] and k > 1:
                    U = prototypes.embed_all(fitted, Z).numpy()
                    labels, _ = merge.switch_off(U, labels, min_share=params["min_share"],
                                                 valley=params["merge_valley"], seed=seed)
        return labels
