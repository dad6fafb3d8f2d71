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
                     missing_hint="train one with `metaclust train-selectors --kb DIR --out DIR`",
                     retrain_hint="retrain with `metaclust train-selectors`")
    if meta.get("selector") != name:
        raise KnowledgeBaseError(f"{d} holds a {meta.get('selector')!r} selector, not {name!r}")
    if kb is not None:
        want = kb_fingerprint(kb)
        if meta.get("kb_fingerprint") != want:
            raise StaleWeightsError(
                f"the {name} selector in {d} was fitted on a different knowledge base "
                f"(checksum {str(meta.get('kb_fingerprint'))[:12]} != {want[:12]}); retrain it with "
                "`metaclust train-selectors --kb DIR --out DIR`")
    return meta, read_tensors(d, meta, weights_file=WEIGHTS_FILE, meta_file=META_FILE)


class StaleWeightsError(KnowledgeBaseError):
    """Weights fitted on another knowledge base: refit them, or train new ones."""


def require_tensors(tensors: dict[str, np.ndarray], names: list[str], where: str) -> None:
    missing = [n for n in names if n not in tensors]
    if missing:
        raise KnowledgeBaseError(f"{where} lacks weights {', '.join(missing[:5])}; retrain the selector")
