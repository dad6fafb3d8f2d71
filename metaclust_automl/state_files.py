"""The plain-file form of fitted state: a JSON file of metadata next to a safetensors file of
float32 tensors, whose SHA-256 the JSON records. Selector weights and the anomaly policy are
written and read here (never pickle); each caller checks its own fields on top. An artefact
that is a single file (the prototype rule) keeps its metadata in the safetensors header
instead (``write_tensor_file`` / ``read_tensor_file``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .checksums import sha256_bytes
from .errors import KnowledgeBaseError
from .plainjson import read_json

#: the JSON key holding the checksum of the tensors file
CHECKSUM_KEY = "weights_sha256"


def write_state(directory: str | os.PathLike, meta: dict[str, Any], tensors: dict[str, Any] | None, *,
                meta_file: str, weights_file: str, sort_keys: bool = False, final_newline: bool = False) -> Path:
    """Write ``meta`` (+ ``tensors`` as float32 safetensors, checksummed in ``meta``) as one
    directory, atomically. Tensors are numpy arrays or torch tensors (each kind through its own
    safetensors serialiser: they pad the header differently, and shipped files stay
    byte-identical when rebuilt)."""
    from .atomic import atomic_directory

    payload = dict(meta)
    blob = None
    if tensors:
        blob = _serialise(tensors)
        payload[CHECKSUM_KEY] = sha256_bytes(blob)
    text = json.dumps(payload, indent=1, sort_keys=sort_keys) + ("\n" if final_newline else "")
    with atomic_directory(directory) as tmp:
        if blob is not None:
            (tmp / weights_file).write_bytes(blob)
        (tmp / meta_file).write_text(text, encoding="utf-8")
    return Path(directory)


def _serialise(tensors: dict[str, Any]) -> bytes:
    if all(hasattr(v, "detach") for v in tensors.values()):  # torch tensors
        from safetensors.torch import save as save_torch

        return save_torch({k: v.detach().cpu().float().contiguous() for k, v in tensors.items()})
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(np.asarray(v), dtype=np.float32) for k, v in tensors.items()})


def read_meta(directory: str | os.PathLike, *, meta_file: str, fmt: str, version_key: str, version: int,
              what: str, missing_hint: str, retrain_hint: str) -> dict[str, Any]:
    """The metadata ``write_state`` wrote, checked for format and version; KnowledgeBaseError
    (saying what to do) when missing, corrupt, of another kind or of another version."""
    path = Path(directory) / meta_file
    if not path.is_file():
        raise KnowledgeBaseError(f"no {what} in {directory} ({meta_file} is missing); {missing_hint}")
    try:
        meta = read_json(path, allow_nan=True)  # a history entry may hold NaN; callers check their fields
    except KnowledgeBaseError as exc:
        raise KnowledgeBaseError(f"{exc} (not a valid JSON file of a {what})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise KnowledgeBaseError(f"{path} is not a metaclust {what}")
    if meta.get(version_key) != version:
        raise KnowledgeBaseError(f"{path} has format version {meta.get(version_key)!r}; this metaclust reads "
                                 f"{version}: {retrain_hint}")
    return meta


def read_tensors(directory: str | os.PathLike, meta: dict[str, Any], *, weights_file: str, meta_file: str,
                 required: bool = False) -> dict[str, np.ndarray]:
    """The tensors next to ``meta`` (float64), verified against its checksum; {} when ``meta``
    records none and they are not ``required``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    d = Path(directory)
    if CHECKSUM_KEY not in meta and not required:
        return {}
    path = d / weights_file
    if not path.is_file():
        raise KnowledgeBaseError(f"{d} is incomplete: {weights_file} is missing")
    blob = path.read_bytes()
    if sha256_bytes(blob) != meta.get(CHECKSUM_KEY):
        raise KnowledgeBaseError(f"{path} does not match the checksum in {d / meta_file} (truncated, modified "
                                 "or mixed up); retrain or reinstall it")
    try:
        tensors = {k: np.asarray(v, dtype=np.float64) for k, v in load(blob).items()}
    except (SafetensorError, ValueError) as exc:
        raise KnowledgeBaseError(f"cannot read {path}: not a valid safetensors file ({exc})") from None
    bad = [k for k, v in tensors.items() if not np.all(np.isfinite(v))]
    if bad:
        raise KnowledgeBaseError(f"{path}: weights {', '.join(bad[:3])} hold NaN or inf; retrain it")
    return tensors


def write_tensor_file(path: str | os.PathLike, tensors: dict[str, Any], metadata: dict[str, str]) -> Path:
    """One safetensors file of float32 ``tensors`` whose header carries ``metadata`` (strings),
    written atomically."""
    from safetensors.numpy import save

    from .atomic import write_bytes

    data = save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, metadata=metadata)
    return write_bytes(path, data)


def read_tensor_file(path: str | os.PathLike, what: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors (as stored) and header metadata of a file ``write_tensor_file`` wrote;
    KnowledgeBaseError ("not a valid safetensors WHAT file") when it cannot be read."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    p = Path(path)
    try:
        raw = p.read_bytes()
        return load(raw), _header_metadata(raw)
    except (SafetensorError, ValueError, OSError) as exc:
        raise KnowledgeBaseError(f"{p} is not a valid safetensors {what} file: {exc}") from None


def _header_metadata(raw: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (its header is plain JSON)."""
    from .plainjson import loads

    n = int.from_bytes(raw[:8], "little")
    if n <= 0 or n > len(raw) - 8:
        raise ValueError("bad header length")
    try:
        header = loads(raw[8:8 + n].decode("utf-8"), "the safetensors header")
    except (KnowledgeBaseError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
