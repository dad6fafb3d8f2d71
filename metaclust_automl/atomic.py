"""Atomic writes: a reader sees either the old file or the complete new one.

Every output of metaclust (labels, scores, reports, knowledge bases) goes through
here, so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DataError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _shown(path: str | os.PathLike) -> str:
    """A path as it may be printed: characters a terminal would act on (newline, ESC) escaped."""
    text = str(path)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _check_name(path: Path) -> None:
    if not str(path).isprintable():
        raise DataError(f"cannot write {_shown(path)}: the name holds a control character (a line break, "
                        "ESC, ...); choose a plain name")


def _check_writable_dir(parent: Path, target: Path) -> None:
    if not parent.exists():
        raise DataError(f"cannot write {_shown(target)}: directory {_shown(parent)} does not exist")
    if not parent.is_dir():
        raise DataError(f"cannot write {_shown(target)}: {_shown(parent)} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write {_shown(target)}: directory {_shown(parent)} is not writable")
    try:  # a read-only file system passes os.access for root, so try it
        fd, probe = tempfile.mkstemp(prefix=".metaclust-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DataError(f"cannot write {_shown(target)}: directory {_shown(parent)} is not writable "
                        f"({exc.strerror or exc})") from None


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early, before any work, when the output cannot be written: its directory is
    missing or read-only, it is a directory, or its name holds control characters."""
    p = Path(path)
    _check_name(p)
    parent = p.parent if str(p.parent) else Path(".")
    _check_writable_dir(parent, p)
    if p.is_dir():
        raise DataError(f"cannot write {_shown(p)}: it is a directory")
    return p


def check_output_dir(path: str | os.PathLike) -> Path:
    """Fail early when directory ``path`` cannot be created or written into: the parent is
    missing or read-only, or ``path`` exists and is not a writable directory."""
    p = Path(path)
    _check_name(p)
    if p.exists():
        if not p.is_dir():
            raise DataError(f"cannot write to {_shown(p)}: it is a file, not a directory")
        _check_writable_dir(p, p)
        return p
    parent = p.parent if str(p.parent) else Path(".")
    _check_writable_dir(parent, p)
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.abspath(a) == os.path.abspath(b)


def check_distinct(outputs: dict[str, str | os.PathLike | None],
                   inputs: dict[str, str | os.PathLike | None] | None = None) -> None:
    """Refuse, before any work, an output that is one of the inputs (it would replace the
    user's data) or two outputs that are one path (one would overwrite the other).

    Both map an option (``"-o"``) to a path; None and ``"-"`` (stdout/stdin) are skipped.
    Paths are compared as files (hard and symbolic links included), not as spellings."""
    outs = [(k, Path(v)) for k, v in outputs.items() if v is not None and str(v) != "-"]
    ins = [(k, Path(v)) for k, v in (inputs or {}).items() if v is not None and str(v) != "-"]
    for i, (name, out) in enumerate(outs):
        for in_name, src in ins:
            if _same_file(out, src):
                raise DataError(f"{name} {_shown(out)} is the input {in_name} {_shown(src)}; writing it would "
                                "replace your data: choose another output path")
        for other_name, other in outs[i + 1:]:
            if _same_file(out, other):
                raise DataError(f"{name} and {other_name} are the same path ({_shown(out)}); give each output "
                                "its own file")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success."""
    target = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp made the file private; outputs get the permissions a plain open() gives
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and move it into place when complete.

    An existing directory at ``path`` is replaced only after the new one is whole.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    _check_writable_dir(parent, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp made it private
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            old.rmdir()
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
