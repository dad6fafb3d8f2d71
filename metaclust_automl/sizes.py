"""How big a file says it is, checked before anything that size is built.

A 192-byte ``.npy`` whose header claims a 10^6 x 10^6 matrix, a 6 MB gzip that inflates to
3 GB of CSV, an ``.npz`` member whose declared size is a terabyte: each would end, after a
long wait, in a ``MemoryError``. Here the declared sizes are compared with the bytes the
file actually holds and with a memory budget, so such a file is refused at once with one
line saying why.

The table budget is ``METACLUST_TABLE_MEMORY`` (e.g. ``8G``) when set, else half the
memory available now: a table that cannot fit would fail anyway, only later.
"""
from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, MetaclustError

#: share of the available memory a loaded table (and its parsing) may take: the rest is
#: for what follows (a preprocessed copy, a backend's own structures)
TABLE_SHARE = 0.5
#: used when the available memory cannot be read
FALLBACK_BUDGET = 8 * 2**30


def table_budget() -> int:
    """Bytes a table being loaded may take (see the module docstring)."""
    from .backends.memory import _available_memory, env_bytes

    value = env_bytes("METACLUST_TABLE_MEMORY")
    if value is not None:
        return value
    available = _available_memory()
    return int(TABLE_SHARE * available) if available else FALLBACK_BUDGET


def shown_bytes(value: float) -> str:
    from .backends.memory import format_bytes

    return format_bytes(value)


def over_budget(path: Path | str, what: str, need: float, budget: int) -> DataError:
    """The error for a table that would need ``need`` bytes."""
    return DataError(f"{path}: {what} would need {shown_bytes(need)} of memory, more than the "
                     f"{shown_bytes(budget)} allowed (half the free memory, or METACLUST_TABLE_MEMORY); "
                     "use a sample of the rows or a machine with more memory")


def gzip_declared_size(path: Path) -> int:
    """The uncompressed size a gzip file's trailer declares (modulo 4 GiB, and of its last
    member only): a lower bound of what it inflates to, read without inflating anything."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() < 18:
                return 0
            fh.seek(-4, os.SEEK_END)
            return int.from_bytes(fh.read(4), "little")
    except OSError:
        return 0


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of an ``.npy`` stream positioned at its start."""
    fmt = np.lib.format
    start = fh.tell() if hasattr(fh, "tell") else 0
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(fh)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = fmt.read_array_header_2_0(fh)
    else:  # pragma: no cover - numpy raises for unknown versions already
        raise ValueError(f"unknown .npy version {version}")
    return tuple(int(s) for s in shape), np.dtype(dtype), fh.tell() - start


def declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * max(dtype.itemsize, 1)


def check_npy(path: Path, error: type[MetaclustError] = DataError) -> None:
    """Refuse an ``.npy`` file whose header declares more data than the file holds, or more
    than the table budget, before ``np.load`` allocates it."""
    try:
        with open(path, "rb") as fh:
            shape, dtype, header = _npy_header(fh)
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"cannot read {path} as .npy: {first[:200]}") from None
    if dtype.hasobject:
        return  # np.load(allow_pickle=False) refuses these with its own message
    need = declared_bytes(shape, dtype)
    held = path.stat().st_size - header
    if need > held:
        raise error(f"cannot read {path} as .npy: its header declares {shown_bytes(need)} "
                    f"({' x '.join(map(str, shape))} {dtype}) but the file holds {shown_bytes(held)}; "
                    "it is truncated or damaged")
    budget = table_budget()
    if need > budget:
        raise over_budget(path, f"a {' x '.join(map(str, shape))} array", need, budget)


def check_npz_members(z: Any, path: Path, error: type[MetaclustError] = DataError) -> None:
    """The same checks for every member of an open ``np.load(...)`` of an ``.npz``: the
    declared (uncompressed) size of each member bounds what reading it inflates to."""
    archive: zipfile.ZipFile | None = getattr(z, "zip", None)
    if archive is None:
        return
    budget = table_budget()
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if total > budget:
            raise over_budget(path, "its arrays", total, budget)
        if not info.filename.endswith(".npy"):
            continue
        try:
            with archive.open(info) as fh:
                shape, dtype, header = _npy_header(fh)
        except (OSError, ValueError, EOFError, SyntaxError, zipfile.BadZipFile) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise error(f"cannot read {path}: member {info.filename}: {first[:200]}") from None
        if dtype.hasobject:
            continue
        need = declared_bytes(shape, dtype)
        if need > info.file_size - header:
            raise error(f"cannot read {path}: member {info.filename} declares {shown_bytes(need)} but holds "
                        f"{shown_bytes(max(info.file_size - header, 0))}; the file is truncated or damaged")
