"""The policy network and its plain-file form (safetensors + JSON; never pickle).

The policy maps a row's state to the probability of the action "anomalous"; that
probability is the row's anomaly score. Its network is a gated monotone ensemble (see
``build_network``): the table's descriptors decide how much each detector is trusted,
and the call can only grow with any detector's score. A value head (the REINFORCE
baseline) shares the context network; it is saved with the policy, but scoring never uses it.

Files in a policy directory:
- ``policy.safetensors``: the tensors (float32);
- ``policy.json``: format version, architecture, the state's feature names and detector
  list, the input standardisation, the SHA-256 of the tensors file, and how it was trained.
Loading checks every one of these, so a foreign, tampered or stale file is refused with a
``KnowledgeBaseError`` instead of producing silent nonsense.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError
from ..paths import data_path
from ..torch_device import resolve_device

FORMAT = "metaclust-anomaly-policy"
FORMAT_VERSION = 1
WEIGHTS_FILE = "policy.safetensors"
META_FILE = "policy.json"


def default_directory() -> Path:
    """Where the shipped policy lives (package data)."""
    return data_path("anomaly")


def device() -> Any:
    """Where the policy runs (the package's one device choice: CUDA when present)."""
    return resolve_device("auto")


#: knots of the monotone basis: a detector's rank r enters as relu(r - k) for each k, its
#: squashed magnitude m as m and relu(m - k); nondecreasing functions all of them
RANK_KNOTS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
MAG_KNOTS = (0.2, 0.5, 1.0)


def build_network(n_detectors: int, n_inputs: int, hidden: tuple[int, ...], dropout: float = 0.0,
                  modulation: float = 1.0) -> Any:
    """The gated monotone policy network.

    The state's columns are [ranks (D), magnitudes (D), table context].
    Every detector's rank and magnitude pass through a fixed monotone basis phi; the logit
    of "anomalous" is a non-negative combination of these, with table-dependent trust:

        logit(row) = b(table) + sum_j t_j(table) * sum_k w_jk * phi_k(rank_j(row), mag_j(row))

    with w_jk >= 0 learned across all tasks (the global prior of how much each detector and
    each part of its score range is worth) and t_j(table) = exp(modulation * tanh(g_j(table)))
    the table's trust in detector j, read by a context network from the table's
    descriptors and bounded to [e^-modulation, e^modulation]. Two properties follow, and
    both are there to make the policy transfer from generated tasks to real tables:
    a row that any detector finds more anomalous can never become less likely to be called
    anomalous (it cannot learn to invert a detector from a few odd training tasks), and a
    table's descriptors can re-weight the detectors but not hand everything to one of them
    (an unbounded gate learned on generated tasks extrapolated badly to unfamiliar tables).
    The value head (the REINFORCE baseline) reads the context and the row's ranks and magnitudes.
    """
    import torch
    from torch import nn

    D = n_detectors
    n_ctx = n_inputs - 2 * D
    B = len(RANK_KNOTS) + 1 + len(MAG_KNOTS)

    class GatedMonotonePolicy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            width = n_ctx
            for h in hidden:
                layers += [nn.Linear(width, h), nn.GELU()]
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                width = h
            self.context = nn.Sequential(*layers)
            # start near a plain average of the detectors
            self.shape = nn.Parameter(torch.full((D, B), -2.0))
            self.trust = nn.Linear(width, D)
            self.bias = nn.Linear(width, 1)
            self.value = nn.Linear(width + 2 * D, 1)
            # log-odds of the table's contamination, read from the context features with the
            # gradient stopped, so that learning it does not pull on what the trust gate reads
            self.share = nn.Linear(width, 1)
            self.register_buffer("rank_knots", torch.tensor(RANK_KNOTS, dtype=torch.float32))
            self.register_buffer("mag_knots", torch.tensor(MAG_KNOTS, dtype=torch.float32))
            self.register_buffer("modulation", torch.tensor(float(modulation)))

        def basis(self, ranks: torch.Tensor, mags: torch.Tensor) -> torch.Tensor:
            r = torch.relu(ranks[..., None] - self.rank_knots)
            m = torch.cat([mags[..., None], torch.relu(mags[..., None] - self.mag_knots)], dim=-1)
            return torch.cat([r, m], dim=-1)  # (n, D, B)

        def detector_trust(self, h: torch.Tensor) -> torch.Tensor:
            return torch.exp(self.modulation * torch.tanh(self.trust(h)))  # (n, D)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            ranks, mags, ctx = x[:, :D], x[:, D:2 * D], x[:, 2 * D:]
            h = self.context(ctx)
            per_detector = (nn.functional.softplus(self.shape) * self.basis(ranks, mags)).sum(dim=2)
            logit = self.bias(h).squeeze(-1) + (self.detector_trust(h) * per_detector).sum(dim=1)
            value = self.value(torch.cat([h, ranks, mags], dim=1)).squeeze(-1)
            return logit, value

        def share_logit(self, x: torch.Tensor) -> torch.Tensor:
            """Predicted log-odds of the share of anomalies in the row's table."""
            return self.share(self.context(x[:, 2 * D:]).detach()).squeeze(-1)

    return GatedMonotonePolicy()


@dataclass
class Policy:
    """A trained policy: network, input standardisation and its provenance."""

    net: Any
    feature_names: list[str]
    detectors: list[str]
    input_mean: np.ndarray
    input_std: np.ndarray
    hidden: tuple[int, ...]
    input_low: np.ndarray | None = None
    input_high: np.ndarray | None = None
    dropout: float = 0.0
    modulation: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)

    def _inputs(self, state: np.ndarray) -> Any:
        import torch

        x = np.asarray(state, dtype=np.float32)
        if self.input_low is not None and self.input_high is not None:
            # A network extrapolates wildly outside its training range (a 50,000-row table
            # after training on tables of at most a few thousand rows): clamp to that range.
            x = np.clip(x, self.input_low, self.input_high)
        x = (x - self.input_mean) / self.input_std
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def prob_anomalous(self, state: np.ndarray, batch: int = 65536) -> np.ndarray:
        """P(action = anomalous) for each row of ``state``: the anomaly score."""
        import torch

        if state.shape[1] != len(self.feature_names):
            raise KnowledgeBaseError(f"the policy expects {len(self.feature_names)} state features, "
                                     f"got {state.shape[1]}")
        dev = device()
        self.net.to(dev).eval()
        out = np.empty(state.shape[0], dtype=np.float64)
        with torch.no_grad():
            for start in range(0, state.shape[0], batch):
                x = self._inputs(state[start:start + batch]).to(dev)
                logit, _ = self.net(x)
                out[start:start + batch] = torch.sigmoid(logit.double()).cpu().numpy()
        return out

    def estimate_contamination(self, state: np.ndarray) -> float:
        """The share of anomalies the policy expects in the table, from its descriptors
        (every row of a table carries the same ones; the first row is read). Clipped to
        [0.001, 0.5]."""
        import torch

        dev = device()
        self.net.to(dev).eval()
        with torch.no_grad():
            z = self.net.share_logit(self._inputs(state[:1]).to(dev))
        return float(np.clip(torch.sigmoid(z.double()).cpu().numpy()[0], 0.001, 0.5))

    # --- plain files ------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the policy as a directory of plain files, atomically."""
        from ..state_files import write_state

        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "hidden": list(self.hidden), "dropout": float(self.dropout), "modulation": float(self.modulation), "feature_names": list(self.feature_names),
            "detectors": list(self.detectors),
            "input_mean": [float(v) for v in self.input_mean],
            "input_std": [float(v) for v in self.input_std],
            "input_low": None if self.input_low is None else [float(v) for v in self.input_low],
            "input_high": None if self.input_high is None else [float(v) for v in self.input_high],
            "info": self.info,
        }
        return write_state(directory, meta, self.net.state_dict(), meta_file=META_FILE, weights_file=WEIGHTS_FILE,
                           sort_keys=True, final_newline=True)

    @classmethod
    def load(cls, directory: str | os.PathLike | None = None) -> Policy:
        """Read a policy written by :meth:`save` (the shipped one by default)."""
        import torch

        from ..state_files import read_meta, read_tensors
        from .detectors import DETECTOR_NAMES
        from .features import feature_names

        root = Path(directory) if directory is not None else default_directory()
        meta_path, weights_path = root / META_FILE, root / WEIGHTS_FILE
        if not meta_path.is_file() or not weights_path.is_file():
            raise KnowledgeBaseError(
                f"no anomaly policy in {root} (needs {META_FILE} and {WEIGHTS_FILE}); train one with "
                "`python -m metaclust_automl.anomaly.train --out DIR`")
        meta = read_meta(root, meta_file=META_FILE, fmt=FORMAT, version_key="format_version", version=FORMAT_VERSION,
                         what="anomaly policy", missing_hint="train one with `python -m metaclust_automl.anomaly.train`",
                         retrain_hint="retrain the policy")
        arrays = read_tensors(root, meta, weights_file=WEIGHTS_FILE, meta_file=META_FILE, required=True)
        try:
            detectors = [str(d) for d in meta["detectors"]]
            names = [str(f) for f in meta["feature_names"]]
            hidden = tuple(int(h) for h in meta["hidden"])
            dropout = float(meta.get("dropout", 0.0))
            modulation = float(meta.get("modulation", 1.0))
            mean = np.asarray(meta["input_mean"], dtype=np.float32)
            std = np.asarray(meta["input_std"], dtype=np.float32)
            low = None if meta.get("input_low") is None else np.asarray(meta["input_low"], dtype=np.float32)
            high = None if meta.get("input_high") is None else np.asarray(meta["input_high"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise KnowledgeBaseError(f"{meta_path} is incomplete or malformed: {exc}") from None
        unknown = [d for d in detectors if d not in DETECTOR_NAMES]
        if unknown or names != feature_names(tuple(detectors)):
            raise KnowledgeBaseError(f"{meta_path} was trained on other state features than this "
                                     "metaclust computes; retrain the policy")
        if mean.shape != (len(names),) or std.shape != (len(names),) or not np.all(std > 0):
            raise KnowledgeBaseError(f"{meta_path} has a malformed input standardisation")
        for bound in (low, high):
            if bound is not None and bound.shape != (len(names),):
                raise KnowledgeBaseError(f"{meta_path} has malformed input bounds")
        tensors = {k: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()}
        net = build_network(len(detectors), len(names), hidden, dropout, modulation)
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise KnowledgeBaseError(f"{weights_path} does not fit the architecture in {meta_path}: {first}") from None
        net.eval()
        return cls(net=net, feature_names=names, detectors=detectors, input_mean=mean, input_std=std,
                   hidden=hidden, input_low=low, input_high=high, dropout=dropout, modulation=modulation, info=dict(meta.get("info") or {}))
