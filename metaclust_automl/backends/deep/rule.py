"""The prototype method's update rule: schedules of step sizes, temperature, balance and
neighbour reach.

Training runs from progress 0 to 1; at each step the rule gives five numbers, each a
piecewise-linear function (in log space) of progress through ``KNOTS`` knots:

- ``lr_proto``: Adam step size of the prototypes;
- ``lr_net``: Adam step size of the residual feature network;
- ``tau``: temperature of the soft assignment (lower = harder);
- ``balance``: weight of the term that keeps clusters from collapsing into one;
- ``reach``: the fraction of each row's mined neighbours (nearest first) that count as
  its partners: a step pairs a row with one of its nearest ``reach * m`` neighbours.
  Its value at the end of training also decides which neighbour links group the tiles
  and score the restarts. Near neighbours are more often in the row's own cluster, far
  ones give more varied pairs; where the balance lies is what the meta-learner finds.

The *plain* rule holds them constant at conventional values (every mined neighbour is a
partner, as in SCAN). The *meta-learned* rule is fitted across the built-in corpus and
generated tasks by evolution strategies on the ARI of the backend's own labels
(``training/prototype_rule.py``), and ships as a small safetensors file. Being schedules over progress, the rule applies to any number of
epochs and rows.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ... import plainjson
from ...errors import KnowledgeBaseError
from ...paths import data_path

FORMAT = "metaclust-prototype-rule"
VERSION = 2
#: versions this code reads; a version-1 file has no ``reach`` and gets the plain one
READABLE = ("1", "2")
NAMES = ("lr_proto", "lr_net", "tau", "balance", "reach")
KNOTS = 5
#: constant values of the plain rule (conventional choices, not tuned on any benchmark)
PLAIN_VALUES = {"lr_proto": 0.05, "lr_net": 1e-3, "tau": 0.1, "balance": 1.0, "reach": 1.0}
#: bounds of each value, so that a meta-learned rule cannot step outside sane ranges
BOUNDS = {"lr_proto": (1e-4, 0.5), "lr_net": (1e-5, 0.05), "tau": (0.01, 1.0), "balance": (0.05, 20.0),
          "reach": (0.1, 1.0)}

DEFAULT_PATH = data_path("weights", "prototype_rule.safetensors")


class RuleWarning(UserWarning):
    """The meta-learned rule could not be loaded; the plain rule was used instead."""


@dataclass
class UpdateRule:
    """Log-values of each schedule at ``KNOTS`` evenly spaced knots of progress."""

    logs: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    learned: bool = False

    @classmethod
    def plain(cls) -> UpdateRule:
        return cls({k: np.full(KNOTS, math.log(v), dtype=np.float32) for k, v in PLAIN_VALUES.items()},
                   meta={"kind": "plain"}, learned=False)

    def tensors(self, device: Any = None, requires_grad: bool = False) -> dict[str, Any]:
        """The log-values as torch tensors (leaf tensors when ``requires_grad``)."""
        import torch

        return {k: torch.tensor(v, dtype=torch.float32, device=device, requires_grad=requires_grad)
                for k, v in self.logs.items()}

    def values(self) -> dict[str, list[float]]:
        return {k: [float(math.exp(x)) for x in v] for k, v in self.logs.items()}


def schedule_at(logs: dict[str, Any], progress: float) -> dict[str, Any]:
    """The values at ``progress`` in [0, 1], interpolated between knots in log space
    and clipped to ``BOUNDS``; differentiable in ``logs`` (torch tensors)."""
    import torch

    x = min(max(float(progress), 0.0), 1.0) * (KNOTS - 1)
    i = min(int(x), KNOTS - 2)
    w = x - i
    out = {}
    for name in NAMES:
        v = logs[name]
        lo, hi = BOUNDS[name]
        val = torch.exp((1.0 - w) * v[i] + w * v[i + 1])
        out[name] = val.clamp(lo, hi)
    return out


def partners(reach: Any, m: int) -> int:
    """How many of the ``m`` mined neighbours (nearest first) ``reach`` keeps: at least one."""
    return int(max(1, min(m, math.ceil(float(reach) * m - 1e-6))))


def final_links(logs: dict[str, Any], neighbours: Any) -> Any:
    """The columns of ``neighbours`` (nearest first) that are partners at the end of
    training: they group the tiles and score the restarts."""
    return neighbours[:, :partners(schedule_at(logs, 1.0)["reach"], neighbours.shape[1])]


def save_rule(path: str | Path, rule: UpdateRule) -> Path:
    """Write ``rule`` as safetensors (tensors) with JSON metadata, atomically."""
    from ...state_files import write_tensor_file

    header = {"format": FORMAT, "version": str(VERSION), "meta": json.dumps(rule.meta, sort_keys=True)}
    return write_tensor_file(path, rule.logs, header)


def load_rule(path: str | Path) -> UpdateRule:
    """Read a rule written by :func:`save_rule`; KnowledgeBaseError when missing or foreign."""
    from ...state_files import read_tensor_file

    p = Path(path)
    if not p.is_file():
        raise KnowledgeBaseError(f"prototype rule file not found: {p}; rebuild it with "
                                 f"`metaclust train prototype-rule -o {p}`")
    tensors, header = read_tensor_file(p, "rule")
    if header.get("format") != FORMAT or header.get("version") not in READABLE:
        raise KnowledgeBaseError(f"{p} is not a metaclust prototype rule (format {header.get('format')!r}, "
                                 f"version {header.get('version')!r}; expected {FORMAT!r} version {VERSION})")
    if header.get("version") == "1" and "reach" not in tensors:
        tensors = {**tensors, "reach": np.full(KNOTS, math.log(PLAIN_VALUES["reach"]), dtype=np.float32)}
    missing = [k for k in NAMES if k not in tensors]
    if missing or any(tensors[k].shape != (KNOTS,) for k in NAMES if k in tensors):
        raise KnowledgeBaseError(f"{p} lacks or misshapes the schedules {missing or list(NAMES)}")
    logs = {k: np.asarray(tensors[k], dtype=np.float32) for k in NAMES}
    if not all(np.all(np.isfinite(v)) for v in logs.values()):
        raise KnowledgeBaseError(f"{p} holds non-finite schedule values")
    try:
        meta = plainjson.loads(header.get("meta", "{}"), str(p), allow_nan=True)
    except KnowledgeBaseError:
        meta = {}
    return UpdateRule(logs, meta=meta if isinstance(meta, dict) else {}, learned=True)


def rule_for(name: str, path: str | Path | None = None) -> UpdateRule:
    """``"plain"`` or ``"meta"``; a missing or broken meta-learned file falls back to the
    plain rule with a RuleWarning, so the backend always runs."""
    if name == "plain":
        return UpdateRule.plain()
    try:
        return load_rule(path or DEFAULT_PATH)
    except KnowledgeBaseError as exc:
        warnings.warn(f"{exc}; using the plain prototype rule instead", RuleWarning, stacklevel=3)
        return UpdateRule.plain()
