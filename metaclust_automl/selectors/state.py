"""Fitted selectors as plain files: ``selector.json`` (+ ``weights.safetensors``), written
through :mod:`metaclust_automl.state_files`, and the knowledge-base fingerprint that ties
weights to the knowledge base they were fitted on."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError
from ..knowledge_base import KnowledgeBase
from ..plainjson import finite_number

#: version of the selector state format written by ``save_state``
STATE_FORMAT = "metaclust-selector"
STATE_VERSION = 1
META_FILE = "selector.json"
WEIGHTS_FILE = "weights.safetensors"


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


def save_state(directory: str | os.PathLike, name: str, meta: dict[str, Any],
               tensors: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``selector.json`` (+ ``weights.safetensors``) atomically as one directory."""
    from ..state_files import write_state

    target = Path(directory)
    if target.parent.parent.is_dir():  # OUT/NAME: create OUT, never a whole missing tree
        target.parent.mkdir(exist_ok=True)
    payload = {"format": STATE_FORMAT, "version": STATE_VERSION, "selector": name, **meta}
    return write_state(target, payload, tensors, meta_file=META_FILE, weights_file=WEIGHTS_FILE)


def load_state(directory: str | os.PathLike, name: str, kb: KnowledgeBase | None
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify what ``save_state`` wrote; raises KnowledgeBaseError when the files are
    missing, corrupt, for another selector or fitted on a different knowledge base."""
    from ..state_files import read_meta, read_tensors

    d = Path(directory)
    meta = read_meta(d, meta_file=META_FILE, fmt=STATE_FORMAT, version_key="version", version=STATE_VERSION,
                     what=f"fitted {name} selector",
                     missing_hint="train one with `metaclust train-selectors --kb KB` (writes KB/selectors/)",
                     retrain_hint="retrain with `metaclust train-selectors --kb KB`")
    if meta.get("selector") != name:
        raise KnowledgeBaseError(f"{d} holds a {meta.get('selector')!r} selector, not {name!r}")
    if kb is not None:
        want = kb_fingerprint(kb)
        if meta.get("kb_fingerprint") != want:
            raise StaleWeightsError(
                f"the {name} selector in {d} was fitted on a different knowledge base "
                f"(checksum {str(meta.get('kb_fingerprint'))[:12]} != {want[:12]}); retrain it with "
                "`metaclust train-selectors --kb KB` (writes KB/selectors/, read automatically)")
    check_state(meta, kb, d / META_FILE)
    return meta, read_tensors(d, meta, weights_file=WEIGHTS_FILE, meta_file=META_FILE)


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
    "portfolio_size": ("int", 0, 100_000), "target": ("target", 0, 0),
}
#: what the knn selector's neighbour rows may be averaged as (``knn.TARGETS``)
TARGET_VALUES = ("share_of_best", "ari")


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
        elif kind == "target":
            if value not in TARGET_VALUES:
                raise KnowledgeBaseError(f"{where}: target must be one of {', '.join(TARGET_VALUES)}, got {value!r}")
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


def require_tensors(tensors: dict[str, np.ndarray], names: list[str], where: str) -> None:
    missing = [n for n in names if n not in tensors]
    if missing:
        raise KnowledgeBaseError(f"{where} lacks weights {', '.join(missing[:5])}; retrain the selector")
