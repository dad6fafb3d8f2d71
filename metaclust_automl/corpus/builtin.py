"""The built-in corpus: task families defined in ``meta_datasets/clustering.json``.

The definition file lists families (a synthetic generator or a real dataset), their
parameter grids and seeds; this module expands it into task ids and generates any one
task alone, cheaply and deterministically, so that meta-training workers on many
machines can each build the tasks they were handed by id.

A task's random numbers come from a hash of its id, never from its position in a list:
the same id gives the same X and y in every run, whatever else the corpus holds, and
adding tasks to the file leaves the existing ones untouched. Ids name every parameter
(see ``generators.clusters.id_part`` and ``generators.real_subsets.id_part``), e.g.
``syn/blobs-aniso/n1200-d5-k4-aniso8-s3`` or ``real/digits/classes-0-3-5-6-8-9/std``.

Where the definition is looked up: ``$METACLUST_META_DATASETS`` (the directory or the
file), else ``meta_datasets/`` next to the package (a source checkout), else a copy
shipped as package data under ``metaclust_automl/data/meta_datasets/``.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..paths import meta_datasets_path
from ..generators import clusters, real_subsets
from .tasks import LabelledTask

SPEC_FORMAT = "metaclust-corpus"
SPEC_SCHEMA = 1
SPEC_NAME = "clustering.json"
ENV_VAR = "METACLUST_META_DATASETS"
KINDS = ("synthetic", "real")


@dataclass(frozen=True)
class TaskSpec:
    """Where one built-in task comes from: family, generator or dataset, parameters, seed."""

    id: str
    family: str
    kind: str
    source: str  # generator name (synthetic) or dataset name (real)
    params: dict[str, Any] = field(hash=False)
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "family": self.family, "group": self.family, "kind": self.kind}
        if self.kind == "synthetic":
            out["generator"] = self.source
        else:
            out["dataset"] = self.source
            out["loader"] = f"sklearn.datasets.{real_subsets.REAL_DATASETS[self.source]}"
        out["params"] = json.loads(json.dumps(self.params))
        out["seed"] = self.seed
        return out


# ----------------------------------------------------------------- the definition file

def spec_path(spec: str | os.PathLike | None = None) -> Path:
    """The corpus definition file to read (see the module docstring for the search order)."""
    candidates: list[Path] = []
    if spec is not None:
        candidates.append(Path(spec))
    elif os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        candidates.append(meta_datasets_path())
    for c in candidates:
        path = c / SPEC_NAME if c.is_dir() else c
        if path.is_file():
            return path
    if spec is not None or os.environ.get(ENV_VAR):
        raise ConfigError(f"corpus definition not found: {candidates[0]} (expected {SPEC_NAME} "
                          "or a directory holding it)")
    raise ConfigError(f"the built-in corpus definition meta_datasets/{SPEC_NAME} is not installed; "
                      f"set {ENV_VAR} to the meta_datasets/ directory of a metaclust checkout")


def _options(key: str, value: Any) -> list[Any]:
    """The values one grid key takes: a list means several (``classes`` lists of lists)."""
    if key == "classes":
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            return value
        return [value]
    return value if isinstance(value, list) else [value]


def _task_specs(family: dict[str, Any], where: str) -> list[TaskSpec]:
    name = family.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"{where}: every family needs a 'name' without '/'")
    kind = family.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: family {name!r} has kind {kind!r}; use one of {', '.join(KINDS)}")
    main = family.get("generator") if kind == "synthetic" else family.get("dataset", name)
    entries = family.get("tasks")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: family {name!r} lists no tasks")
    defaults = family.get("defaults", {})
    out: list[TaskSpec] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: family {name!r}: each task entry must be an object")
        merged = {**defaults, **entry}
        seeds = _options("seeds", merged.pop("seeds", [0]))
        source = merged.pop("generator", main) if kind == "synthetic" else main
        keys = list(merged)
        for combo in itertools.product(*(_options(k, merged[k]) for k in keys)):
            raw = dict(zip(keys, combo))
            for seed in seeds:
                if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                    raise ConfigError(f"{where}: family {name!r}: seeds must be whole numbers >= 0")
                if kind == "synthetic":
                    params = clusters.resolve_params(source, raw)
                    prefix = "" if source == main else f"{source}-"
                    tid = f"syn/{name}/{prefix}{clusters.id_part(source, params)}-s{seed}"
                else:
                    params = real_subsets.resolve_real_params(source, raw)
                    tid = f"real/{name}/{real_subsets.id_part(params, seed)}"
                out.append(TaskSpec(tid, name, kind, source, params, seed))
    return out


@lru_cache(maxsize=8)
def _catalogue(path: str, stamp: tuple[int, int] = (0, 0)) -> dict[str, TaskSpec]:
    """Every task of the definition file at ``path``, in file order, keyed by id
    (``stamp``, the file's mtime and size, makes an edited file be read again)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the corpus definition {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != SPEC_FORMAT:
        raise ConfigError(f"{path} is not a metaclust corpus definition (format must be {SPEC_FORMAT!r})")
    if doc.get("schema") != SPEC_SCHEMA:
        raise ConfigError(f"{path} has schema {doc.get('schema')!r}; this version reads schema {SPEC_SCHEMA}")
    families = doc.get("families")
    if not isinstance(families, list) or not families:
        raise ConfigError(f"{path} defines no families")
    if not all(isinstance(f, dict) for f in families):
        raise ConfigError(f"{path}: every entry of 'families' must be an object")
    names = [f.get("name") for f in families]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: family names must be unique")
    out: dict[str, TaskSpec] = {}
    for fam in families:
        for ts in _task_specs(fam, path):
            if ts.id in out:
                raise ConfigError(f"{path}: task {ts.id} is listed twice (family {ts.family})")
            out[ts.id] = ts
    return out


def _specs(spec: str | os.PathLike | None) -> dict[str, TaskSpec]:
    path = spec_path(spec)
    st = path.stat()
    return _catalogue(str(path), (st.st_mtime_ns, st.st_size))


# ----------------------------------------------------------------------------- the API

def builtin_families(*, spec: str | os.PathLike | None = None) -> list[str]:
    """Family names in definition order (each family is also its tasks' ``group``)."""
    return list(dict.fromkeys(ts.family for ts in _specs(spec).values()))


def _select_families(specs: dict[str, TaskSpec], families: Iterable[str] | None) -> set[str]:
    known = list(dict.fromkeys(ts.family for ts in specs.values()))
    if families is None:
        return set(known)
    if isinstance(families, str):
        families = [families]
    chosen: set[str] = set()
    for f in families:
        if f in KINDS:
            chosen |= {ts.family for ts in specs.values() if ts.kind == f}
        elif f in known:
            chosen.add(f)
        else:
            raise ConfigError(f"unknown corpus family {f!r}; known: {', '.join(known)} (or synthetic, real)")
    return chosen


def builtin_task_ids(*, families: Iterable[str] | None = None,
                     spec: str | os.PathLike | None = None) -> list[str]:
    """Ids of the built-in tasks in definition order, optionally of some families only
    (family names, or ``synthetic`` / ``real`` for all of one kind)."""
    specs = _specs(spec)
    chosen = _select_families(specs, families)
    return [tid for tid, ts in specs.items() if ts.family in chosen]


def task_spec(task_id: str, *, spec: str | os.PathLike | None = None) -> dict[str, Any]:
    """Where a built-in task comes from, as plain JSON-ready data (family, generator or
    dataset, every parameter, seed) for the knowledge base to record."""
    return _lookup(task_id, spec).as_dict()


def _lookup(task_id: str, spec: str | os.PathLike | None) -> TaskSpec:
    specs = _specs(spec)
    if task_id not in specs:
        fam = task_id.split("/")[1] if task_id.count("/") >= 2 else ""
        near = [t for t in specs if fam and t.split("/")[1] == fam][:3]
        hint = f"; e.g. {', '.join(near)}" if near else "; see builtin_task_ids()"
        raise ConfigError(f"no built-in task {task_id!r}{hint}")
    return specs[task_id]


def task_rng(task_id: str) -> np.random.Generator:
    """The random generator of one task, seeded by a hash of its id (not its position)."""
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def load_builtin_task(task_id: str, *, spec: str | os.PathLike | None = None) -> LabelledTask:
    """Generate one built-in task by id: same id, same X and y, on any machine and in any run."""
    ts = _lookup(task_id, spec)
    rng = task_rng(ts.id)
    if ts.kind == "synthetic":
        X, y = clusters.generate(ts.source, ts.params, rng)
        source = f"synthetic:{ts.source}"
    else:
        X, y = real_subsets.real_task(ts.source, ts.params, rng)
        source = f"sklearn.datasets.{real_subsets.REAL_DATASETS[ts.source]}"
    return LabelledTask(id=ts.id, X=X, y=y, group=ts.family, source=source)


def builtin_corpus(*, families: Iterable[str] | None = None, limit: int | None = None, seed: int = 0,
                   spec: str | os.PathLike | None = None) -> list[LabelledTask]:
    """The built-in tasks (in definition order). ``limit`` keeps at most that many, drawn
    round-robin across the families (which ones within a family depends on ``seed``), so a
    small corpus for a quick run still covers every family."""
    ids = builtin_task_ids(families=families, spec=spec)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"limit must be a whole number >= 1, got {limit!r}")
        ids = balanced_subset(ids, limit, seed=seed, spec=spec)
    return [load_builtin_task(tid, spec=spec) for tid in ids]


def balanced_subset(ids: list[str], limit: int, *, seed: int = 0,
                    spec: str | os.PathLike | None = None) -> list[str]:
    """At most ``limit`` of ``ids``, taken in turn from each family, in their original order."""
    specs = _specs(spec)
    rng = np.random.default_rng(seed)
    queues: dict[str, list[str]] = {}
    for tid in ids:
        queues.setdefault(specs[tid].family if tid in specs else "", []).append(tid)
    for fam in queues:
        queues[fam] = [queues[fam][i] for i in rng.permutation(len(queues[fam]))]
    chosen: set[str] = set()
    while len(chosen) < min(limit, len(ids)):
        for fam in queues:
            if queues[fam] and len(chosen) < limit:
                chosen.add(queues[fam].pop(0))
    return [tid for tid in ids if tid in chosen]


def task_checksum(task: LabelledTask) -> str:
    """sha256 of a task's data (X rounded to 8 decimals, and y): lets a knowledge base notice
    that a task id no longer produces the data it was trained on."""
    h = hashlib.sha256()
    h.update(np.asarray(task.X.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(np.round(task.X, 8) + 0.0).tobytes())
    h.update(np.ascontiguousarray(task.y, dtype=np.int64).tobytes())
    return h.hexdigest()
