"""The policy network and its plain-file form (safetensors + JSON; never pickle).

The policy maps a row's state to the probability of the action "anomalous"; that
probability is the row's anomaly score. A value head (the REINFORCE baseline) shares the
trunk; it is trained with the policy and saved with it, but scoring never uses it.

Files in a policy directory:
- ``policy.safetensors``: the tensors (float32);
- ``policy.json``: format version, architecture, the state's feature names and detector
  list, the input standardisation, the SHA-256 of the tensors file, and how it was trained.
Loading checks every one of these, so a foreign, tampered or stale file is refused with a
``KnowledgeBaseError`` instead of producing silent nonsense.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError

FORMAT = "metaclust-anomaly-policy"
FORMAT_VERSION = 1
WEIGHTS_FILE = "policy.safetensors"
META_FILE = "policy.json"


def default_directory() -> Path:
    """Where the shipped policy lives (package data)."""
    return Path(__file__).resolve().parent.parent / "data" / "anomaly"


def device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_network(n_inputs: int, hidden: tuple[int, ...], dropout: float = 0.0) -> Any:
    """Trunk (MLP) with a logit head and a value head."""
    import torch
    from torch import nn

    class PolicyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            width = n_inputs
            for h in hidden:
                layers += [nn.Linear(width, h), nn.GELU()]
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                width = h
            self.trunk = nn.Sequential(*layers)
            self.logit = nn.Linear(width, 1)
            self.value = nn.Linear(width, 1)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = self.trunk(x)
            return self.logit(h).squeeze(-1), self.value(h).squeeze(-1)

    return PolicyNet()


@dataclass
class Policy:
    """A trained policy: network, input standardisation and its provenance."""

    net: Any
    feature_names: list[str]
    detectors: list[str]
    input_mean: np.ndarray
    input_std: np.ndarray
    hidden: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def _inputs(self, state: np.ndarray) -> Any:
        import torch

        x = (np.asarray(state, dtype=np.float32) - self.input_mean) / self.input_std
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

    # --- plain files ------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the policy as a directory of plain files, atomically."""
        from safetensors.torch import save as save_tensors

        from ..atomic import atomic_directory

        tensors = {k: v.detach().cpu().float().contiguous() for k, v in self.net.state_dict().items()}
        blob = save_tensors(tensors)
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "hidden": list(self.hidden), "feature_names": list(self.feature_names),
            "detectors": list(self.detectors),
            "input_mean": [float(v) for v in self.input_mean],
            "input_std": [float(v) for v in self.input_std],
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
            "info": self.info,
        }
        with atomic_directory(directory) as tmp:
            (tmp / WEIGHTS_FILE).write_bytes(blob)
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return Path(directory)

    @classmethod
    def load(cls, directory: str | os.PathLike | None = None) -> Policy:
        """Read a policy written by :meth:`save` (the shipped one by default)."""
        from safetensors import SafetensorError
        from safetensors.torch import load as load_tensors

        from .detectors import DETECTOR_NAMES
        from .features import feature_names

        root = Path(directory) if directory is not None else default_directory()
        meta_path, weights_path = root / META_FILE, root / WEIGHTS_FILE
        if not meta_path.is_file() or not weights_path.is_file():
            raise KnowledgeBaseError(
                f"no anomaly policy in {root} (needs {META_FILE} and {WEIGHTS_FILE}); train one with "
                "`python -m metaclust_automl.anomaly.train --out DIR`")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KnowledgeBaseError(f"{meta_path} is not valid JSON: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise KnowledgeBaseError(f"{meta_path} is not a metaclust anomaly policy")
        if meta.get("format_version") != FORMAT_VERSION:
            raise KnowledgeBaseError(f"{meta_path} has format version {meta.get('format_version')}; "
                                     f"this metaclust reads version {FORMAT_VERSION}: retrain the policy")
        blob = weights_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
            raise KnowledgeBaseError(f"{weights_path} does not match the checksum in {meta_path}: "
                                     "the files were changed or mixed up; retrain or reinstall them")
        try:
            detectors = [str(d) for d in meta["detectors"]]
            names = [str(f) for f in meta["feature_names"]]
            hidden = tuple(int(h) for h in meta["hidden"])
            mean = np.asarray(meta["input_mean"], dtype=np.float32)
            std = np.asarray(meta["input_std"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise KnowledgeBaseError(f"{meta_path} is incomplete or malformed: {exc}") from None
        unknown = [d for d in detectors if d not in DETECTOR_NAMES]
        if unknown or names != feature_names(tuple(detectors)):
            raise KnowledgeBaseError(f"{meta_path} was trained on other state features than this "
                                     "metaclust computes; retrain the policy")
        if mean.shape != (len(names),) or std.shape != (len(names),) or not np.all(std > 0):
            raise KnowledgeBaseError(f"{meta_path} has a malformed input standardisation")
        try:
            tensors = load_tensors(blob)
        except (SafetensorError, ValueError) as exc:
            raise KnowledgeBaseError(f"{weights_path} is not a valid safetensors file: {exc}") from None
        net = build_network(len(names), hidden)
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise KnowledgeBaseError(f"{weights_path} does not fit the architecture in {meta_path}: {first}") from None
        net.eval()
        return cls(net=net, feature_names=names, detectors=detectors, input_mean=mean, input_std=std,
                   hidden=hidden, info=dict(meta.get("info") or {}))
