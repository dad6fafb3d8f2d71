"""What every built-in selector shares: feature scaling, configuration descriptors,
knowledge-base fingerprints, feasibility of a configuration for a table, and the
plain-file format of fitted state.

Kept free of torch so that ranking with shipped weights needs only numpy.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError
from ..knowledge_base import KnowledgeBase
from ..plainjson import finite_number, read_json

#: version of the selector state format written by ``save_state``
STATE_FORMAT = "metaclust-selector"
STATE_VERSION = 1
META_FILE = "selector.json"
WEIGHTS_FILE = "weights.safetensors"


# -- fingerprints --------------------------------------------------------------------

def kb_fingerprint(kb: KnowledgeBase) -> str:
    """A checksum of everything a selector learns from: names, configurations and arrays.

    Weights store it, so that weights fitted on another knowledge base (or an older
    version of this one) are detected instead of silently mis-ranking."""
    h = hashlib.sha256()
    h.update(json.dumps([kb.metafeature_names, kb.index_names, [c.key() for c in kb.configs],
                         kb.task_ids], default=str).encode())
    for arr in (kb.M, kb.P["ari"], kb.P["nmi"], kb.P["acc"], kb.C, kb.status):
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.float64))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


# -- scaling ---------------------------------------------------------------------------

@dataclass
class Standardiser:
    """Robust per-column standardisation (median, IQR), clipped so that one odd table
    cannot push a network far outside what it saw in training."""

    center: np.ndarray
    scale: np.ndarray
    clip: float = 5.0

    @classmethod
    def fit(cls, X: np.ndarray, clip: float = 5.0) -> Standardiser:
        X = np.asarray(X, dtype=np.float64).reshape(-1, np.asarray(X).shape[-1])
        q25, med, q75 = np.percentile(X, [25, 50, 75], axis=0)
        scale = (q75 - q25) / 1.349
        std = X.std(axis=0)
        scale = np.where(scale > 1e-9, scale, std)
        scale = np.where(scale > 1e-9, scale, 1.0)
        return cls(center=med, scale=scale, clip=clip)

    def transform(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - self.center) / self.scale
        return np.clip(Z, -self.clip, self.clip)

    def to_dict(self) -> dict[str, Any]:
        return {"center": self.center.tolist(), "scale": self.scale.tolist(), "clip": self.clip}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardiser:
        return cls(center=np.asarray(d["center"], dtype=np.float64),
                   scale=np.asarray(d["scale"], dtype=np.float64), clip=float(d.get("clip", 5.0)))


def index_features(C: np.ndarray) -> np.ndarray:
    """Internal indices made comparable across tables: counts on a log scale, the rest as is.

    ``C[..., I]`` in ``metrics.INDEX_NAMES`` order (silhouette, log Calinski-Harabasz,
    Davies-Bouldin, n_clusters, noise_share); unknown extra indices pass through."""
    C = np.asarray(C, dtype=np.float64).copy()
    if C.shape[-1] >= 4:
        C[..., 3] = np.log1p(np.maximum(C[..., 3], 0.0))
    return np.nan_to_num(C, nan=0.0, posinf=0.0, neginf=0.0)


def index_vector(indices: dict[str, float], names: list[str]) -> np.ndarray:
    """Indices returned by a probe, in the knowledge base's order (missing ones = 0)."""
    return np.array([float(indices.get(n, 0.0)) for n in names], dtype=np.float64)


# -- configurations -------------------------------------------------------------------

def config_descriptors(kb: KnowledgeBase) -> tuple[np.ndarray, list[str]]:
    """A numeric description of each configuration, so that models share what they learn
    between configurations of one algorithm (k=5 is near k=6).

    Columns: one-hot algorithm; per (algorithm, numeric parameter) the value (on a log scale
    when it spans more than a factor of 10), standardised over the portfolio (0 = the
    portfolio's average, and for configurations that lack the parameter); per
    (algorithm, categorical parameter, value) a one-hot column. Derived deterministically
    from the configuration list, so it needs no storage."""
    algos = sorted({c.algorithm for c in kb.configs})
    numeric: dict[str, list[tuple[int, float]]] = {}
    categorical: set[str] = set()
    for i, c in enumerate(kb.configs):
        for k, v in c.params.items():
            key = f"{c.algorithm}.{k}"
            if isinstance(v, (bool, str)):
                categorical.add(f"{key}={v}")
            elif isinstance(v, (int, float)) and math.isfinite(float(v)):
                numeric.setdefault(key, []).append((i, float(v)))
    names = [f"algo={a}" for a in algos] + sorted(numeric) + sorted(categorical)
    pos = {n: j for j, n in enumerate(names)}
    D = np.zeros((len(kb.configs), len(names)), dtype=np.float64)
    for i, c in enumerate(kb.configs):
        D[i, pos[f"algo={c.algorithm}"]] = 1.0
        for k, v in c.params.items():
            if isinstance(v, (bool, str)):
                D[i, pos[f"{c.algorithm}.{k}={v}"]] = 1.0
    for key, items in numeric.items():
        rows = np.array([i for i, _ in items])
        vals = np.array([v for _, v in items])
        if np.all(vals > 0) and vals.max() / vals.min() > 10:
            vals = np.log(vals)
        sd = vals.std()
        D[rows, pos[key]] = (vals - vals.mean()) / sd if sd > 1e-12 else 0.0
    return D, names


def describe_config(algorithm: str, params: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
                      if v is not None)
    return f"{algorithm}({shown})"


def n_clusters_param(params: dict[str, Any]) -> int | None:
    for key in ("n_clusters", "n_components"):
        v = params.get(key)
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
    return None


def feasible_mask(kb: KnowledgeBase, n: int | None = None, registry: Any = None) -> np.ndarray:
    """Which configurations can run on a table of ``n`` rows with the installed backends.

    A configuration is skipped when its backend is not installed, when it asks for more
    clusters than the table has rows, or when its cost grows faster than n log n and the
    backend cannot fit on a sample (it would not finish on a big table)."""
    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    ok = np.ones(len(kb.configs), dtype=bool)
    for i, c in enumerate(kb.configs):
        backend = registry.backends.get(c.algorithm)
        if backend is None:
            ok[i] = False
            continue
        if n is None:
            continue
        k = n_clusters_param(c.params)
        if k is not None and k >= n:
            ok[i] = False
        cost = getattr(backend, "cost", "linear")
        if cost in ("quadratic", "cubic") and getattr(backend, "max_fit_rows", None) is None and n > 20_000:
            ok[i] = False
    return ok


def performance(kb: KnowledgeBase, metric: str = "ari") -> np.ndarray:
    """P[task, config] with failed runs as 0, clipped to [-1, 1]."""
    return np.clip(kb.performance(metric), -1.0, 1.0)


def listwise_target(P: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(P / temperature) per task: the share each configuration deserves of a top-1 pick."""
    Z = P / temperature
    Z = Z - Z.max(axis=-1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=-1, keepdims=True)


# -- plain-file state -----------------------------------------------------------------

def save_state(directory: str | os.PathLike, name: str, meta: dict[str, Any],
               tensors: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``selector.json`` (+ ``weights.safetensors``) atomically as one directory."""
    from safetensors.numpy import save_file

    from ..atomic import atomic_directory

    target = Path(directory)
    if target.parent.parent.is_dir():  # OUT/NAME: create OUT, never a whole missing tree
        target.parent.mkdir(exist_ok=True)
    with atomic_directory(target) as tmp:
        payload = {"format": STATE_FORMAT, "version": STATE_VERSION, "selector": name, **meta}
        if tensors:
            arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
            save_file(arrays, str(tmp / WEIGHTS_FILE))
            payload["weights_sha256"] = _sha256(tmp / WEIGHTS_FILE)
        (tmp / META_FILE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return target


def load_state(directory: str | os.PathLike, name: str, kb: KnowledgeBase | None
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify what ``save_state`` wrote; raises KnowledgeBaseError when the files are
    missing, corrupt, for another selector or fitted on a different knowledge base."""
    d = Path(directory)
    mpath = d / META_FILE
    if not mpath.is_file():
        raise KnowledgeBaseError(f"no fitted {name} selector in {d} ({META_FILE} is missing); "
                                 "train one with `metaclust train-selectors --kb DIR --out DIR`")
    meta = read_json(mpath, allow_nan=True)  # a history entry may hold NaN; checked below
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        raise KnowledgeBaseError(f"{mpath} is not a metaclust selector state")
    if meta.get("version") != STATE_VERSION:
        raise KnowledgeBaseError(f"{mpath} has state version {meta.get('version')!r}; this metaclust reads "
                                 f"{STATE_VERSION}: retrain with `metaclust train-selectors`")
    if meta.get("selector") != name:
        raise KnowledgeBaseError(f"{d} holds a {meta.get('selector')!r} selector, not {name!r}")
    if kb is not None:
        want = kb_fingerprint(kb)
        if meta.get("kb_fingerprint") != want:
            raise StaleWeightsError(
                f"the {name} selector in {d} was fitted on a different knowledge base "
                f"(checksum {str(meta.get('kb_fingerprint'))[:12]} != {want[:12]}); retrain it with "
                "`metaclust train-selectors --kb DIR --out DIR`")
    check_state(meta, kb, mpath)
    tensors: dict[str, np.ndarray] = {}
    if "weights_sha256" in meta:
        wpath = d / WEIGHTS_FILE
        if not wpath.is_file():
            raise KnowledgeBaseError(f"{d} is incomplete: {WEIGHTS_FILE} is missing")
        if _sha256(wpath) != meta["weights_sha256"]:
            raise KnowledgeBaseError(f"{wpath} does not match its checksum (truncated or modified)")
        from safetensors.numpy import load_file

        try:
            tensors = {k: np.asarray(v, dtype=np.float64) for k, v in load_file(str(wpath)).items()}
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise KnowledgeBaseError(f"cannot read {wpath}: {exc}") from None
        bad = [k for k, v in tensors.items() if not np.all(np.isfinite(v))]
        if bad:
            raise KnowledgeBaseError(f"{wpath}: weights {', '.join(bad[:3])} hold NaN or inf; retrain the selector")
    return meta, tensors


#: what every selector's hyper-parameters may be: (kind, low, high); a value outside its
#: range would hang loading (n_bags = 1e8) or ranking, so it is refused when a state is read
HYPER_LIMITS: dict[str, tuple[str, float, float]] = {
    "n_bags": ("int", 1, 64), "k": ("int", 1, 100_000), "hidden": ("int", 1, 4096), "emb": ("int", 1, 1024),
    "steps": ("int", 0, 10_000_000), "meta_batch": ("int", 1, 100_000), "inner_steps": ("int", 0, 100),
    "batch": ("int", 1, 1_000_000), "max_budget": ("int", 0, 10_000), "adapt_configs": ("int", 1, 100_000),
    "temperature": ("float", 1e-6, 1e3), "lr": ("float", 0.0, 10.0), "val_share": ("float", 0.0, 0.9),
    "probe_share": ("float", 0.0, 1.0), "list_weight": ("float", 0.0, 1e3), "weight_decay": ("float", 0.0, 1.0),
    "input_noise": ("float", 0.0, 100.0), "entropy": ("float", 0.0, 100.0), "index_weight": ("float", 0.0, 1e3),
    "probe_blend": ("float", 0.0, 1.0), "metric": ("metric", 0, 0), "table_input": ("bool", 0, 0),
}


def check_state(meta: dict[str, Any], kb: KnowledgeBase | None, where: Path) -> None:
    """Every value a selector state hands a constructor or an array: hyper-parameters known,
    typed and in range; scalers of the knowledge base's widths, finite, with positive scales."""
    from ..knowledge_base import METRICS

    hyper = meta.get("hyper")
    if not isinstance(hyper, dict):
        raise KnowledgeBaseError(f"{where}: 'hyper' must be an object of hyper-parameters")
    for key, value in hyper.items():
        if key not in HYPER_LIMITS:
            raise KnowledgeBaseError(f"{where}: unknown hyper-parameter {str(key)[:40]!r}; retrain the selector")
        kind, low, high = HYPER_LIMITS[key]
        if kind == "metric":
            if value not in METRICS:
                raise KnowledgeBaseError(f"{where}: metric must be one of {', '.join(METRICS)}, got {value!r}")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise KnowledgeBaseError(f"{where}: {key} must be true or false, got {value!r}")
        else:
            finite_number(value, f"{where}: {key}", low=low, high=high, integer=kind == "int")
    widths = {"metafeature_scaler": len(kb.metafeature_names) if kb is not None else None,
              "index_scaler": int(kb.C.shape[2]) if kb is not None else None}
    for name, width in widths.items():
        scaler = meta.get(name)
        if not isinstance(scaler, dict) or not isinstance(scaler.get("center"), list) \
                or not isinstance(scaler.get("scale"), list):
            raise KnowledgeBaseError(f"{where}: {name} must hold 'center' and 'scale' lists")
        center, scale = scaler["center"], scaler["scale"]
        if len(center) != len(scale) or (width is not None and len(center) != width):
            raise KnowledgeBaseError(f"{where}: {name} has {len(center)} centres and {len(scale)} scales; "
                                     f"the knowledge base needs {width}")
        for i, (c, sc) in enumerate(zip(center, scale)):
            finite_number(c, f"{where}: {name} centre {i}")
            finite_number(sc, f"{where}: {name} scale {i}", low=1e-300)
        finite_number(scaler.get("clip", 5.0), f"{where}: {name} clip", low=1e-6, high=1e6)


class StaleWeightsError(KnowledgeBaseError):
    """Weights fitted on another knowledge base: refit them, or train new ones."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def require_tensors(tensors: dict[str, np.ndarray], names: list[str], where: str) -> None:
    missing = [n for n in names if n not in tensors]
    if missing:
        raise KnowledgeBaseError(f"{where} lacks weights {', '.join(missing[:5])}; retrain the selector")


def group_split(kb: KnowledgeBase, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation task indices, split by task group so that variants of one
    source table (class subsets, noise levels) never sit on both sides."""
    groups = [t.group or t.id for t in kb.tasks]
    uniq = sorted(set(groups))
    T = len(groups)
    if T < 6 or share <= 0:
        return np.arange(T), np.arange(0)
    rng = np.random.default_rng(seed)
    if len(uniq) < 4:  # too few groups to hold any out: split tasks instead
        perm = rng.permutation(T)
        nval = max(1, int(round(share * T)))
        return np.sort(perm[nval:]), np.sort(perm[:nval])
    order = rng.permutation(len(uniq))
    val_groups: set[str] = set()
    count = 0
    for g in order:
        if count >= share * T:
            break
        val_groups.add(uniq[g])
        count += groups.count(uniq[g])
    val = np.array([i for i, g in enumerate(groups) if g in val_groups], dtype=int)
    train = np.array([i for i, g in enumerate(groups) if g not in val_groups], dtype=int)
    if train.size == 0:
        return np.arange(T), np.arange(0)
    return train, val


def top1_score(pred: np.ndarray, P: np.ndarray) -> float:
    """Mean ARI of the top-1 pick of each row of ``pred`` (what the validation tracks)."""
    return float(np.mean(P[np.arange(P.shape[0]), np.argmax(pred, axis=1)]))


def set_torch_threads() -> None:
    """One thread unless METACLUST_TORCH_THREADS says otherwise: the networks are small,
    and on a shared machine extra threads mostly wait on each other (measured: a training
    step ran 20 to 40 times slower with two threads on two busy cores)."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("METACLUST_TORCH_THREADS", "1"))))


#: labelled rows at which observed ARI and predicted quality weigh the same
LABEL_TRUST = 20.0


def score_on_labels(query: Any, kb: KnowledgeBase, scores: np.ndarray, allowed: np.ndarray, top: int = 8
                    ) -> tuple[list[int], np.ndarray, int] | None:
    """Few-shot evidence: run the ``top`` best-scored configurations (and the best of every
    algorithm) through ``query.run`` and score them on the known labels. Returns (configs,
    their ARI on the known rows, number of known rows), or None without labels."""
    from ..errors import ConfigError, DataError
    from ..metrics import ari

    if query.labels is None:
        return None
    labels = np.asarray(query.labels)
    known = labels >= 0
    m = int(known.sum())
    if m == 0:
        return None
    if np.unique(labels[known]).size < 2:
        raise DataError("the known labels hold a single class; give labelled rows of at least two clusters")
    if query.run is None:
        raise ConfigError("few-label adaptation needs to run configurations on the table; "
                          "this caller gave the selector no runner")
    order = [int(c) for c in np.argsort(-scores, kind="stable") if allowed[c]]
    cols = order[:top]
    for alg in sorted({c.algorithm for c in kb.configs}):
        best = next((c for c in order if kb.configs[c].algorithm == alg), None)
        if best is not None and best not in cols:
            cols.append(best)
    observed = np.array([ari(labels[known], query.run(c)[known]) for c in cols])
    return cols, observed, m


def blend_observed(scores: np.ndarray, cols: list[int], observed: np.ndarray, m: int) -> np.ndarray:
    """Scores of the configurations that were scored on labels move towards what was observed,
    the more so the more labels there were (m / (m + LABEL_TRUST))."""
    out = np.array(scores, dtype=np.float64, copy=True)
    w = m / (m + LABEL_TRUST)
    out[cols] = w * observed + (1 - w) * out[cols]
    return out
