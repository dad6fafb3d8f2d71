"""Samplers of the search phase.

``qmc``: a scrambled Halton sequence indexed by the trial's *slot*, so a trial's
parameters depend only on (seed, study, slot) — never on which worker ran it, in which
order, or how many workers there were. That is what makes a knowledge base built by two
machines identical to one built by one. (Optuna's own QMCSampler counts samples in a
study attribute that concurrent workers update without a transaction, and samples its
first trial at random, so it cannot give that guarantee.)

``tpe``: Optuna's TPESampler, seeded per (seed, study, slot); with one worker the build
is reproducible, with several it depends on the order in which trials finished.
"""
from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from typing import Any

from ...errors import ConfigError
from .slots import SLOT

SAMPLERS = ("tpe", "qmc")
MAX_DIMS = 24


def stable_seed(*parts: Any) -> int:
    """A 32-bit seed from any JSON-able parts (stable across processes and machines)."""
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little")


@lru_cache(maxsize=4096)
def _halton_point(seed: int, slot: int) -> tuple[float, ...]:
    from scipy.stats import qmc

    engine = qmc.Halton(d=MAX_DIMS, scramble=True, seed=seed)
    if slot:
        engine.fast_forward(slot)
    return tuple(float(u) for u in engine.random(1)[0])


def from_unit(u: float, dist: Any) -> Any:
    """The value of an Optuna distribution at quantile ``u`` in [0, 1)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    u = min(max(float(u), 0.0), 1.0 - 1e-12)
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(u * len(dist.choices))]
    if isinstance(dist, FloatDistribution):
        lo, hi = dist.low, dist.high
        if dist.log:
            value = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        elif dist.step is not None:
            value = lo + round(u * (hi - lo) / dist.step) * dist.step
        else:
            value = lo + u * (hi - lo)
        return float(min(max(value, lo), hi))
    if isinstance(dist, IntDistribution):
        lo, hi = dist.low, dist.high
        if dist.log:
            a, b = math.log(lo - 0.5 if lo > 0.5 else lo), math.log(hi + 0.5)
            value = int(round(math.exp(a + u * (b - a))))
        else:
            steps = (hi - lo) // dist.step + 1
            value = lo + int(u * steps) * dist.step
        return int(min(max(value, lo), hi))
    raise ConfigError(f"the qmc sampler cannot draw from {type(dist).__name__}")


def _slot_qmc_class() -> type:
    from optuna.samplers import BaseSampler

    class SlotQMCSampler(BaseSampler):
        """Quasi-random parameters that are a function of the trial's slot only."""

        def __init__(self, seed: int) -> None:
            self.seed = int(seed)

        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
            return {}

        def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
            slot = trial.user_attrs.get(SLOT)
            if not isinstance(slot, int):
                raise ConfigError("the qmc sampler needs trials claimed through metaclust's slots")
            dim = len(trial.params)
            if dim >= MAX_DIMS:
                raise ConfigError(f"the qmc sampler supports at most {MAX_DIMS} parameters")
            u = _halton_point(stable_seed(self.seed, study.study_name), slot)[dim]
            return from_unit(u, param_distribution)

    return SlotQMCSampler


def make_sampler(kind: str, seed: int, study_name: str, slot: int, trials: int) -> Any:
    """A sampler for one trial of one study."""
    if kind == "qmc":
        return _slot_qmc_class()(seed)
    if kind == "tpe":
        from optuna.samplers import TPESampler

        return TPESampler(seed=stable_seed(seed, study_name, slot),
                          n_startup_trials=max(2, min(10, trials // 3)))
    raise ConfigError(f"unknown sampler {kind!r}; use one of: {', '.join(SAMPLERS)}")
