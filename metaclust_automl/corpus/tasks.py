"""Labelled tasks and reading them from a user's directory.

A directory corpus may hold, in any mix (subdirectories are searched and their path
becomes the task's group, e.g. a battery of the benchmark suite):
- ``NAME.data.gz`` with ``NAME.labels0.gz`` (label 0 = noise, not scored);
- CSV/TSV/parquet files with a label column (``label`` unless told otherwise);
- ``.npz`` files with arrays ``X`` and ``y``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..loading import load_labels, load_table

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".csv.gz", ".tsv.gz")


@dataclass
class LabelledTask:
    """One labelled dataset. ``y`` holds integer labels; ``NOISE`` (-1) rows are not scored."""

    id: str
    X: np.ndarray
    y: np.ndarray
    #: the family or source table the task belongs to (leave-one-group-out holds it out whole)
    group: str = ""
    source: str = ""
    #: how the task was made (generator parameters), for tasks that were generated
    info: dict[str, Any] = field(default_factory=dict)

    NOISE = -1

    @property
    def n_classes(self) -> int:
        return int(np.unique(self.y[self.y != self.NOISE]).size)


def encode_labels(raw: np.ndarray, noise_values: Sequence[object] = ()) -> np.ndarray:
    """Integer codes 0..k-1 for the reference labels; missing or noise values become -1."""
    raw = np.asarray(raw, dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) or v in noise_values
                        for v in raw], dtype=bool)
    out = np.full(raw.shape[0], -1, dtype=np.int64)
    if (~missing).any():
        _, codes = np.unique(raw[~missing].astype(str), return_inverse=True)
        out[~missing] = codes
    return out


def _data_gz_task(path: Path, root: Path) -> LabelledTask:
    name = path.name[: -len(".data.gz")]
    lpath = path.with_name(f"{name}.labels0.gz")
    if not lpath.exists():
        raise DataError(f"{path} has no labels file {lpath.name}")
    table = load_table(path)
    raw = np.asarray(load_labels(lpath))
    if raw.shape[0] != table.X.shape[0]:
        raise DataError(f"{lpath}: {raw.shape[0]} labels for {table.X.shape[0]} rows")
    y = encode_labels(raw, noise_values=(0, "0"))
    return LabelledTask(id=_task_id(path, root, name), X=table.X, y=y, group=_group(path, root), source=str(path))


def _task_id(path: Path, root: Path, name: str) -> str:
    rel = path.parent.relative_to(root) if path.parent != root else Path()
    return "/".join([*rel.parts, name]) if rel.parts else name


def _group(path: Path, root: Path) -> str:
    rel = path.parent.relative_to(root) if path.parent != root else Path()
    return "/".join(rel.parts) or root.name


def _load_file(path: Path, base: Path, label_column: str) -> LabelledTask | None:
    """The task file ``path`` holds, or None when it is not a task file."""
    low = path.name.lower()
    if low.endswith(".data.gz"):
        return _data_gz_task(path, base)
    if low.endswith(".npz"):
        table = load_table(path)
        if table.labels is None:
            raise DataError(f"{path} has no label array (expected arrays X and y)")
        return LabelledTask(id=_task_id(path, base, path.name[:-4]), X=table.X,
                            y=encode_labels(table.labels), group=_group(path, base), source=str(path))
    if low.endswith(TABLE_SUFFIXES):
        table = load_table(path, label_column=label_column)
        suffix = next(s for s in TABLE_SUFFIXES if low.endswith(s))
        name = path.name[: -len(suffix)]  # "run.v2.csv" -> "run.v2"
        return LabelledTask(id=_task_id(path, base, name), X=table.X, y=encode_labels(table.labels),
                            group=_group(path, base), source=str(path))
    return None


def load_directory(root: str | os.PathLike, *, label_column: str = "label") -> list[LabelledTask]:
    """Every labelled task under ``root``, sorted by id."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"corpus not found: {root}")
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))  # skip hidden/temp files
    base = root.parent if root.is_file() else root
    tasks: list[LabelledTask] = []
    for path in files:
        try:
            task = _load_file(path, base, label_column)
        except DataError as exc:  # a corpus has many files: the message must name this one
            text = str(exc)
            if str(path) in text:
                raise
            hint = (" (every table of a corpus needs a label column; name it with --label-column)"
                    if "--label-column" in text else "")
            raise DataError(f"{path}: {text}{hint}") from None
        if task is not None:
            tasks.append(task)
    if not tasks:
        raise DataError(f"no labelled tasks found in {root} (expected .data.gz + .labels0.gz, "
                        f"CSV/parquet with a {label_column!r} column, or .npz with X and y)")
    check_unique(tasks)
    return sorted(tasks, key=lambda t: t.id)


def check_unique(tasks: list[LabelledTask]) -> None:
    """DataError when two tasks share an id (they would overwrite each other's rows)."""
    seen: dict[str, str] = {}
    for t in tasks:
        if t.id in seen:
            raise DataError(f"task id {t.id!r} occurs twice in the corpus ({seen[t.id]} and {t.source}); "
                            "rename one of the files")
        seen[t.id] = t.source


def load_corpus(paths: Iterable[str | os.PathLike], *, label_column: str = "label") -> list[LabelledTask]:
    """Tasks from several directories or files; ids must be unique across them."""
    tasks: list[LabelledTask] = []
    for p in paths:
        tasks.extend(load_directory(p, label_column=label_column))
    check_unique(tasks)
    return tasks
