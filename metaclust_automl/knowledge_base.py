"""The knowledge base: what meta-training learned, as a directory of plain files.

Layout (schema version 1)::

    KB_DIR/manifest.json   format, schema version, package version, tasks, configurations,
                           meta-feature and index names, sha256 of every other file
    KB_DIR/arrays.npz      M[task, feature]         meta-features
                           P_ari/P_nmi/P_acc[task, config]   performance of every config on every task
                           C[task, config, index]   internal indices observed when a config ran
                           seconds[task, config]    run time
                           status[task, config]     0 ok, 1 failed, 2 timed out, 3 skipped

Loading never executes code (JSON and ``np.load(allow_pickle=False)``), and checks the
schema, the shapes and the checksums before anything uses the data.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_directory
from .checksums import sha256_file
from .errors import KnowledgeBaseError
from .paths import data_path
from .plainjson import read_json
from .sizes import check_npz_members

FORMAT = "metaclust-knowledge-base"
SCHEMA_VERSION = 1
METRICS = ("ari", "nmi", "acc")
STATUS = {"ok": 0, "failed": 1, "timeout": 2, "skipped": 3}
MANIFEST = "manifest.json"
#: the manifest field holding the sha256 of the rest of the manifest
MANIFEST_DIGEST = "manifest_sha256"
#: a manifest is a few hundred kB for thousands of tasks; a bigger one is not ours
MAX_MANIFEST_BYTES = 64 << 20
ARRAYS = "arrays.npz"


@dataclass
class Task:
    """One labelled dataset of the corpus."""

    id: str
    group: str = ""
    n: int = 0
    d: int = 0
    source: str = ""


@dataclass
class Config:
    """One portfolio configuration: a backend and its scale-free parameters."""

    id: str
    algorithm: str
    params: dict[str, Any]

    def key(self) -> str:
        return json.dumps([self.algorithm, self.params], sort_keys=True, default=str)


@dataclass
class KnowledgeBase:
    """Tasks x configurations performance, with the tasks' meta-features and indices."""

    tasks: list[Task]
    configs: list[Config]
    metafeature_names: list[str]
    index_names: list[str]
    M: np.ndarray
    P: dict[str, np.ndarray]
    C: np.ndarray
    seconds: np.ndarray
    status: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        self.validate()

    # -- checks ---------------------------------------------------------------
    def validate(self) -> None:
        """Raise KnowledgeBaseError unless every array has the shape the lists imply."""
        T, K, F, I = len(self.tasks), len(self.configs), len(self.metafeature_names), len(self.index_names)
        where = f" in {self.path}" if self.path else ""
        expect = {"M": (self.M, (T, F)), "C": (self.C, (T, K, I)), "seconds": (self.seconds, (T, K)),
                  "status": (self.status, (T, K))}
        for m in METRICS:
            if m not in self.P:
                raise KnowledgeBaseError(f"knowledge base{where} lacks the {m} performance matrix")
            expect[f"P_{m}"] = (self.P[m], (T, K))
        for name, (arr, shape) in expect.items():
            if not isinstance(arr, np.ndarray) or arr.shape != shape:
                got = getattr(arr, "shape", type(arr).__name__)
                raise KnowledgeBaseError(f"knowledge base{where}: {name} has shape {got}, expected {shape}")
            if arr.dtype.kind not in "fiu":
                raise KnowledgeBaseError(f"knowledge base{where}: {name} is not numeric")
        if T == 0 or K == 0:
            raise KnowledgeBaseError(f"knowledge base{where} has no tasks or no configurations")
        if len({t.id for t in self.tasks}) != T:
            raise KnowledgeBaseError(f"knowledge base{where} has duplicate task ids")
        if len({c.id for c in self.configs}) != K:
            raise KnowledgeBaseError(f"knowledge base{where} has duplicate configuration ids")
        if not np.all(np.isfinite(self.M)):
            raise KnowledgeBaseError(f"knowledge base{where}: meta-features contain NaN or inf")
        self._validate_values(where)

    def _validate_values(self, where: str) -> None:
        """Values a meta-training run can produce, and nothing else: status codes, scores in
        [-1, 1] wherever a run succeeded (NaN only where it did not), no infinities."""
        codes = np.asarray(sorted(STATUS.values()))
        status = self.status
        if status.dtype.kind == "f" and not np.all(np.isfinite(status) & (status == np.round(status))):
            raise KnowledgeBaseError(f"knowledge base{where}: status holds values that are not codes")
        if not np.all(np.isin(status, codes)):
            raise KnowledgeBaseError(f"knowledge base{where}: status holds unknown codes "
                                     f"(known: {', '.join(f'{v} {k}' for k, v in STATUS.items())})")
        ok = status == STATUS["ok"]
        for m in METRICS:
            P = np.asarray(self.P[m], dtype=np.float64)
            if np.isinf(P).any():
                raise KnowledgeBaseError(f"knowledge base{where}: the {m} matrix holds infinite values")
            if np.isnan(P[ok]).any():
                raise KnowledgeBaseError(f"knowledge base{where}: the {m} matrix holds NaN for runs "
                                         "marked as successful")
            if (np.abs(P[ok]) > 1.0 + 1e-9).any():
                raise KnowledgeBaseError(f"knowledge base{where}: the {m} matrix holds scores outside [-1, 1]")
        if np.isinf(np.asarray(self.C, dtype=np.float64)).any():
            raise KnowledgeBaseError(f"knowledge base{where}: the internal indices hold infinite values")
        sec = np.asarray(self.seconds, dtype=np.float64)
        if np.isinf(sec).any() or (sec < 0).any():
            raise KnowledgeBaseError(f"knowledge base{where}: run times must be finite and non-negative")
        for t in self.tasks:
            if not isinstance(t.id, str) or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0
                                                    for v in (t.n, t.d)):
                raise KnowledgeBaseError(f"knowledge base{where}: task {str(t.id)[:60]!r} has a bad id or size")
        for c in self.configs:
            if not isinstance(c.params, dict) or not all(
                    v is None or isinstance(v, str | bool | int | float) for v in c.params.values()):
                raise KnowledgeBaseError(f"knowledge base{where}: configuration {c.id!r} has parameters "
                                         "that are not plain values")

    # -- views ----------------------------------------------------------------
    @property
    def task_ids(self) -> list[str]:
        return [t.id for t in self.tasks]

    def config_index(self, config_id: str) -> int | None:
        """The position of configuration ``config_id`` in the portfolio (None: not in it)."""
        return next((i for i, c in enumerate(self.configs) if c.id == config_id), None)

    def performance(self, metric: str = "ari") -> np.ndarray:
        """P[task, config] with failed runs counted as 0 (what a user would get from them)."""
        P = np.where(self.status == STATUS["ok"], self.P[metric], np.nan)
        return np.nan_to_num(P, nan=0.0)

    def subset(self, task_indices: Any) -> KnowledgeBase:
        """The same knowledge base restricted to some tasks (for leave-one-out)."""
        idx = np.asarray(task_indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return KnowledgeBase(
            tasks=[self.tasks[i] for i in idx], configs=list(self.configs),
            metafeature_names=list(self.metafeature_names), index_names=list(self.index_names),
            M=self.M[idx], P={m: v[idx] for m, v in self.P.items()}, C=self.C[idx],
            seconds=self.seconds[idx], status=self.status[idx], info=dict(self.info))

    def content_digest(self) -> str:
        """sha256 of what the knowledge base says, leaving out what depends on the machine
        and the run (run times and ``info["build"]``: storage, workers, dates).

        Two builds of one corpus with the same settings and the ``qmc`` sampler have the
        same digest, whether one worker or many, on one machine or several, made them."""
        h = hashlib.sha256()
        info = {k: v for k, v in self.info.items() if k != "build"}
        head = {"tasks": [vars(t) for t in self.tasks],
                "configs": [{"id": c.id, "algorithm": c.algorithm, "params": c.params} for c in self.configs],
                "metafeature_names": list(self.metafeature_names), "index_names": list(self.index_names),
                "info": info}
        h.update(json.dumps(head, sort_keys=True, default=str).encode("utf-8"))
        arrays = {"M": self.M, "C": self.C, "status": self.status, **{f"P_{m}": self.P[m] for m in METRICS}}
        for name in sorted(arrays):
            a = np.ascontiguousarray(arrays[name], dtype=np.int64 if name == "status" else np.float64)
            h.update(name.encode())
            h.update(repr(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()

    # -- files ----------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the knowledge base atomically (a reader never sees half of one)."""
        from . import __version__

        self.validate()
        target = Path(directory)
        with atomic_directory(target) as tmp:
            arrays = {"M": self.M.astype(np.float64), "C": self.C.astype(np.float64),
                      "seconds": self.seconds.astype(np.float64), "status": self.status.astype(np.int8)}
            arrays.update({f"P_{m}": self.P[m].astype(np.float64) for m in METRICS})
            np.savez_compressed(tmp / ARRAYS, **arrays)
            manifest = {
                "format": FORMAT, "schema_version": SCHEMA_VERSION, "package_version": __version__,
                "tasks": [vars(t) for t in self.tasks],
                "configs": [{"id": c.id, "algorithm": c.algorithm, "params": c.params} for c in self.configs],
                "metafeature_names": list(self.metafeature_names),
                "index_names": list(self.index_names),
                "metrics": list(METRICS), "status_codes": STATUS,
                "info": self.info,
                "files": {ARRAYS: sha256_file(tmp / ARRAYS)},
            }
            manifest = json.loads(json.dumps(manifest, default=str))  # what a reader will see
            manifest[MANIFEST_DIGEST] = manifest_digest(manifest)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        self.path = target
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> KnowledgeBase:
        """Read and verify a knowledge base directory (raises KnowledgeBaseError)."""
        d = Path(directory)
        if not d.is_dir():
            raise KnowledgeBaseError(f"knowledge base not found: {d} is not a directory")
        mpath = d / MANIFEST
        if not mpath.is_file():
            raise KnowledgeBaseError(f"{d} is not a metaclust knowledge base: {MANIFEST} is missing")
        manifest = read_json(mpath, max_bytes=MAX_MANIFEST_BYTES)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise KnowledgeBaseError(f"{d} is not a metaclust knowledge base (format field missing or foreign)")
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise KnowledgeBaseError(f"{d} has schema version {version!r}; this metaclust reads version "
                                     f"{SCHEMA_VERSION}: rebuild it with `metaclust meta-train`")
        files = manifest.get("files")
        if not isinstance(files, dict) or ARRAYS not in files:
            raise KnowledgeBaseError(f"{mpath} lists no checksums; the knowledge base is incomplete")
        for name, digest in files.items():
            fpath = d / name
            if Path(name).name != name:
                raise KnowledgeBaseError(f"{mpath} names a file outside the knowledge base: {name!r}")
            if not fpath.is_file():
                raise KnowledgeBaseError(f"knowledge base {d} is incomplete: {name} is missing")
            if sha256_file(fpath) != digest:
                raise KnowledgeBaseError(f"knowledge base {d}: {name} does not match its checksum "
                                         "(truncated or modified)")
        try:
            with np.load(d / ARRAYS, allow_pickle=False) as z:
                check_npz_members(z, d / ARRAYS, KnowledgeBaseError)
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise KnowledgeBaseError(f"knowledge base {d}: cannot read {ARRAYS}: {exc}") from None
        try:
            tasks = [Task(**t) for t in _records(manifest, "tasks")]
            configs = [Config(id=str(c["id"]), algorithm=str(c["algorithm"]), params=dict(c["params"]))
                       for c in _records(manifest, "configs")]
            missing = [k for k in ("M", "C", "seconds", "status", *(f"P_{m}" for m in METRICS))
                       if k not in arrays]
            if missing:
                raise KnowledgeBaseError(f"knowledge base {d}: {ARRAYS} lacks {', '.join(missing)}")
            kb = cls(tasks=tasks, configs=configs,
                     metafeature_names=[str(x) for x in manifest["metafeature_names"]],
                     index_names=[str(x) for x in manifest["index_names"]],
                     M=arrays["M"], P={m: arrays[f"P_{m}"] for m in METRICS}, C=arrays["C"],
                     seconds=arrays["seconds"], status=arrays["status"],
                     info=dict(manifest.get("info", {})), path=d)
        except KnowledgeBaseError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KnowledgeBaseError(f"knowledge base {d}: malformed manifest ({type(exc).__name__}: {exc})") from None
        check_manifest_digest(manifest, mpath)  # last: the checks above name what is wrong
        kb.path = d
        return kb


def _records(manifest: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = manifest[key]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TypeError(f"{key} must be a list of records")
    return items


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's content (every field but the digest itself), in a canonical
    JSON form, so that reformatting the file does not matter and any change of a value does."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_DIGEST}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_manifest_digest(manifest: dict[str, Any], mpath: Path) -> None:
    """Verify the manifest's own checksum. A manifest written before it had one (no
    ``manifest_sha256``) still loads, with a warning: rebuilding the knowledge base adds it."""
    digest = manifest.get(MANIFEST_DIGEST)
    if digest is None:
        import warnings

        warnings.warn(f"{mpath} has no checksum of its own (written by an older metaclust); its "
                      "tasks, configurations and names are not verified: rebuild it with `metaclust meta-train`",
                      stacklevel=3)
        return
    if digest != manifest_digest(manifest):
        raise KnowledgeBaseError(f"{mpath} does not match its checksum (modified after it was written); "
                                 "rebuild the knowledge base with `metaclust meta-train`")


def is_knowledge_base(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a knowledge base (its manifest names the format); says
    nothing about whether it is intact (``KnowledgeBase.load`` checks that)."""
    mpath = Path(directory) / MANIFEST
    try:
        manifest = read_json(mpath, max_bytes=MAX_MANIFEST_BYTES) if mpath.is_file() else None
    except KnowledgeBaseError:
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def default_kb_path() -> Path:
    """Where the knowledge base shipped with the package lives."""
    return data_path("kb")


def load_default() -> KnowledgeBase:
    """The shipped knowledge base (works offline right after install)."""
    path = default_kb_path()
    if not (path / MANIFEST).exists():
        from . import DISTRIBUTION

        raise KnowledgeBaseError(f"the shipped knowledge base is missing at {path}; reinstall {DISTRIBUTION} "
                                 "or pass --kb DIR")
    return KnowledgeBase.load(path)
