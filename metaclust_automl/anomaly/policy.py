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

Scoring a table with a loaded policy runs the network in numpy (``numpy_forward``): the
network is small, and importing torch alone took 2.4 s of a 5.8 s `metaclust detect` on
1,000 rows. Torch is imported only to train (and for a policy object that holds a live
torch network, as during training); the two forward passes agree to float32 precision
(tested).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError
from .contamination import SHARE_FEATURES_VERSION
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


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def numpy_forward(tensors: dict[str, np.ndarray], x: np.ndarray, n_detectors: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The policy network's (logit, share logit) in numpy, from its state dict: the same
    arithmetic as ``GatedMonotonePolicy.forward`` in evaluation mode (dropout off)."""
    D = n_detectors
    ranks, mags, h = x[:, :D], x[:, D:2 * D], x[:, 2 * D:]
    # Every row of one table carries the same descriptors (``features.build_state``): the
    # context network then runs once, not once per row (on 50,000 rows it was a third of the
    # time of scoring them).
    shared = h.shape[0] > 1 and bool((h == h[:1]).all())
    if shared:
        h = h[:1]
    # the context network's Linear layers in order (each followed by a GELU; dropout is off)
    for i in sorted(int(k.split(".")[1]) for k in tensors if k.startswith("context.") and k.endswith(".weight")):
        h = _gelu(h @ tensors[f"context.{i}.weight"].T + tensors[f"context.{i}.bias"])
    # sum_b softplus(shape)[j, b] * phi_b(rank_j, mag_j), one basis function at a time (no
    # (rows, detectors, basis) array: on 50,000 rows that cost more than the rest together)
    w = _softplus(tensors["shape"]).astype(np.float64)  # in the tensors' precision, as torch
    rank_knots, mag_knots = np.asarray(tensors["rank_knots"]), np.asarray(tensors["mag_knots"])
    nr = rank_knots.size
    per_detector = mags * w[:, nr]
    tmp = np.empty_like(ranks)
    for b, knot in enumerate(rank_knots):
        np.subtract(ranks, knot, out=tmp)
        np.maximum(tmp, 0.0, out=tmp)
        tmp *= w[:, b]
        per_detector += tmp
    for b, knot in enumerate(mag_knots):
        np.subtract(mags, knot, out=tmp)
        np.maximum(tmp, 0.0, out=tmp)
        tmp *= w[:, nr + 1 + b]
        per_detector += tmp
    trust = np.exp(float(tensors["modulation"]) * np.tanh(h @ tensors["trust.weight"].T + tensors["trust.bias"]))
    logit = (h @ tensors["bias.weight"].T + tensors["bias.bias"])[:, 0] + (trust * per_detector).sum(axis=1)
    share = (h @ tensors["share.weight"].T + tensors["share.bias"])[:, 0]
    if shared:
        share = np.broadcast_to(share, logit.shape)
    return logit, share


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
    #: the network's tensors as numpy arrays (a loaded policy scores with these, torch-free)
    tensors: dict[str, np.ndarray] | None = field(default=None, repr=False)
    #: the ``--contamination auto`` rule (see ``contamination.estimate``); None: not fitted
    contamination_rule: dict | None = None

    def _standardised(self, state: np.ndarray) -> np.ndarray:
        x = np.asarray(state, dtype=np.float32)
        if self.input_low is not None and self.input_high is not None:
            # A network extrapolates wildly outside its training range (a 50,000-row table
            # after training on tables of at most a few thousand rows): clamp to that range.
            x = np.clip(x, self.input_low, self.input_high)
        return np.ascontiguousarray((x - self.input_mean) / self.input_std, dtype=np.float32)

    def _inputs(self, state: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(self._standardised(state))

    def _check_width(self, state: np.ndarray) -> None:
        if state.shape[1] != len(self.feature_names):
            raise KnowledgeBaseError(f"the policy expects {len(self.feature_names)} state features, "
                                     f"got {state.shape[1]}")

    def logits(self, state: np.ndarray, batch: int = 65536) -> np.ndarray:
        """The logit of P(anomalous) of each row (float64)."""
        self._check_width(state)
        out = np.empty(state.shape[0], dtype=np.float64)
        if self.net is None:
            for start in range(0, state.shape[0], batch):
                x = self._standardised(state[start:start + batch]).astype(np.float64)
                out[start:start + batch] = numpy_forward(self.tensors, x, len(self.detectors))[0]
            return out
        import torch

        dev = device()
        self.net.to(dev).eval()
        with torch.no_grad():
            for start in range(0, state.shape[0], batch):
                logit, _ = self.net(self._inputs(state[start:start + batch]).to(dev))
                out[start:start + batch] = logit.double().cpu().numpy()
        return out

    def prob_anomalous(self, state: np.ndarray, batch: int = 65536) -> np.ndarray:
        """P(action = anomalous) for each row of ``state``: the anomaly score."""
        from scipy.special import expit

        return expit(self.logits(state, batch))

    def estimate_share(self, state: np.ndarray, logits: np.ndarray | None = None) -> float:
        """The share of anomalies in the table, from the rows' scores by the policy's fitted
        rule (``contamination.estimate``); the descriptor head's guess when it has none.
        ``logits``: the rows' ``logits(state)`` when the caller has them already."""
        from .contamination import estimate, share_features

        if self.contamination_rule is None:
            return self.estimate_contamination(state)
        logits = self.logits(state) if logits is None else logits
        features = (share_features(logits, state, len(self.detectors))
                    if self.contamination_rule["method"] == "boosted" else None)
        return estimate(self.contamination_rule, logits, features)

    def estimate_contamination(self, state: np.ndarray) -> float:
        """The share of anomalies the descriptor head expects in the table, from its
        descriptors (every row of a table carries the same ones; the first row is read).
        Clipped to [0.001, 0.5]. Kept for comparison: ``estimate_share`` is what
        ``--contamination auto`` uses."""
        if self.net is None:
            z = float(numpy_forward(self.tensors, self._standardised(state[:1]).astype(np.float64),
                                    len(self.detectors))[1][0])
            return float(np.clip(1.0 / (1.0 + np.exp(-z)), 0.001, 0.5))
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
            "contamination_rule": self.contamination_rule,
            "info": self.info,
        }
        tensors = self.net.state_dict() if self.net is not None else self.tensors
        return write_state(directory, meta, tensors, meta_file=META_FILE, weights_file=WEIGHTS_FILE,
                           sort_keys=True, final_newline=True)

    @classmethod
    def load(cls, directory: str | os.PathLike | None = None) -> Policy:
        """Read a policy written by :meth:`save` (the shipped one by default)."""

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
            rule = _checked_rule(meta.get("contamination_rule"))
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
        tensors = arrays
        problem = _architecture_problem(tensors, len(detectors), len(names) - 2 * len(detectors), hidden)
        if problem:
            raise KnowledgeBaseError(f"{weights_path} does not fit the architecture in {meta_path}: {problem}")
        return cls(net=None, feature_names=names, detectors=detectors, input_mean=mean, input_std=std,
                   hidden=hidden, input_low=low, input_high=high, dropout=dropout, modulation=modulation,
                   info=dict(meta.get("info") or {}), tensors=tensors, contamination_rule=rule)


def _checked_rule(rule: Any) -> dict | None:
    """The ``--contamination auto`` rule of a policy file, validated (ValueError if malformed)."""
    if rule is None:
        return None
    needs = {"threshold": ("t",), "em": ("a", "b"), "boosted": ("baseline",)}
    if not isinstance(rule, dict) or rule.get("method") not in needs:
        raise ValueError("contamination_rule must name a method: threshold, em or boosted")
    out: dict[str, Any] = {"method": rule["method"]}
    if rule["method"] == "boosted":
        out["trees"] = _checked_trees(rule.get("trees"))
        if int(rule.get("features_version", -1)) != SHARE_FEATURES_VERSION:
            raise ValueError("contamination_rule was fitted on other share features; retrain the policy")
        out["features_version"] = SHARE_FEATURES_VERSION
    for key in needs[rule["method"]]:
        value = float(rule[key])
        if not np.isfinite(value):
            raise ValueError(f"contamination_rule.{key} must be finite")
        out[key] = value
    return out


def _checked_trees(trees: Any) -> list[dict[str, list]]:
    """The ``boosted`` rule's trees, validated: equal-length node lists, children inside the
    tree and after their parent (so evaluation always ends), known feature indices."""
    from .contamination import N_SHARE_FEATURES

    if not isinstance(trees, list) or not trees:
        raise ValueError("contamination_rule.trees must be a non-empty list")
    out = []
    for tree in trees:
        keys = ("feature", "threshold", "left", "right", "leaf", "value")
        if not isinstance(tree, dict) or any(not isinstance(tree.get(k), list) for k in keys):
            raise ValueError(f"every contamination tree needs the lists {', '.join(keys)}")
        n = len(tree["value"])
        if n == 0 or any(len(tree[k]) != n for k in keys):
            raise ValueError("a contamination tree's node lists differ in length")
        t = {"feature": [int(v) for v in tree["feature"]], "threshold": [float(v) for v in tree["threshold"]],
             "left": [int(v) for v in tree["left"]], "right": [int(v) for v in tree["right"]],
             "leaf": [bool(v) for v in tree["leaf"]], "value": [float(v) for v in tree["value"]]}
        for i in range(n):
            if t["leaf"][i]:
                continue
            if not (i < t["left"][i] < n and i < t["right"][i] < n and 0 <= t["feature"][i] < N_SHARE_FEATURES):
                raise ValueError("a contamination tree has a malformed node")
        if not all(np.isfinite(t["threshold"])) or not all(np.isfinite(t["value"])):
            raise ValueError("a contamination tree has a non-finite number")
        out.append(t)
    return out


def _architecture_problem(tensors: dict[str, np.ndarray], n_det: int, n_ctx: int, hidden: tuple[int, ...]
                          ) -> str | None:
    """What is wrong with the tensors for this architecture (None when they fit): the shapes
    ``build_network`` would give, checked without building it (no torch)."""
    B = len(RANK_KNOTS) + 1 + len(MAG_KNOTS)
    expected: dict[str, tuple[int, ...]] = {}
    width, layer = n_ctx, 0
    for h in hidden:
        expected[f"context.{layer}.weight"], expected[f"context.{layer}.bias"] = (h, width), (h,)
        width = h
        layer += 2  # Linear, GELU (dropout adds a third entry when training used it)
    expected.update({"shape": (n_det, B), "trust.weight": (n_det, width), "trust.bias": (n_det,),
                     "bias.weight": (1, width), "bias.bias": (1,), "value.weight": (1, width + 2 * n_det),
                     "value.bias": (1,), "share.weight": (1, width), "share.bias": (1,),
                     "rank_knots": (len(RANK_KNOTS),), "mag_knots": (len(MAG_KNOTS),), "modulation": ()})
    if "modulation" in tensors and tensors["modulation"].size == 1:  # a 0-d buffer, saved as 0-d or (1,)
        expected["modulation"] = tuple(tensors["modulation"].shape)
    context = sorted(k for k in tensors if k.startswith("context."))
    wanted_context = sorted(k for k in expected if k.startswith("context."))
    if len(context) != len(wanted_context):
        return f"{len(context)} context tensors, expected {len(wanted_context)}"
    # dropout shifts the Sequential's indices: compare the context layers in order
    order = sorted(context, key=lambda k: (int(k.split(".")[1]), k))
    want = sorted(wanted_context, key=lambda k: (int(k.split(".")[1]), k))
    for got, exp in zip(order, want):
        if tuple(tensors[got].shape) != expected[exp]:
            return f"{got} has shape {tuple(tensors[got].shape)}, expected {expected[exp]}"
    for key, shape in expected.items():
        if key.startswith("context."):
            continue
        if key not in tensors:
            return f"missing tensor {key}"
        if tuple(tensors[key].shape) != shape:
            return f"{key} has shape {tuple(tensors[key].shape)}, expected {shape}"
    extra = set(tensors) - set(expected) - set(context)
    if extra:
        return f"unexpected tensors {sorted(extra)}"
    return None
