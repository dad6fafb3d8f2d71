"""Fitted selectors for a knowledge base: saved weights where some match it, else fitted now.

One lookup for every caller: ``Recommender.default`` (and so the CLI and ``MetaClusterer``)
and ``metaclust evaluate`` (which loads saved weights only when it scores with the whole
knowledge base, never for a subset: they were fitted with the held-out tasks).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import KnowledgeBaseError, MetaclustError
from ..knowledge_base import KnowledgeBase
from ..paths import data_path


#: the directory inside a knowledge base that holds its selectors' weights (one per selector)
SELECTORS_SUBDIR = "selectors"


def weights_dir(kb_dir: str | os.PathLike) -> Path:
    """Where the selectors of the knowledge base in ``kb_dir`` are saved, and read by default."""
    return Path(kb_dir) / SELECTORS_SUBDIR


def shipped_weights_path() -> Path:
    """Where the weights shipped with the package live (one directory per selector)."""
    return data_path("selectors")


def weight_dirs(name: str, kb: KnowledgeBase, extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Where saved ``name`` weights for ``kb`` may be, in the order they are tried: each of
    ``extra`` (``DIR/NAME`` when that exists, else ``DIR``), the knowledge base's own
    ``selectors/NAME``, then the package's."""
    dirs = []
    for w in map(Path, extra):
        dirs.append(w / name if (w / name).is_dir() else w)
    if kb.path is not None:
        dirs.append(weights_dir(kb.path) / name)
    dirs.append(shipped_weights_path() / name)
    return dirs


def find_saved(cls: type, kb: KnowledgeBase, dirs: Iterable[Path], *, lenient: bool = False
               ) -> tuple[Any, Path | None, list[str]]:
    """The first of ``dirs`` whose saved weights ``cls.load`` accepts for ``kb``: (selector or
    None, its directory, why the others were refused). Weights fitted on another knowledge base
    (StaleWeightsError) are passed over; with ``lenient`` so are unreadable ones, otherwise
    they raise."""
    from ..selectors.state import StaleWeightsError

    skip: tuple[type[BaseException], ...] = ((MetaclustError, OSError, ValueError) if lenient
                                             else (StaleWeightsError,))
    refused: list[str] = []
    for d in dirs:
        if not d.is_dir():
            continue
        try:
            return cls.load(d, kb), d, refused
        except skip as exc:
            refused.append(str(exc))
        except NotImplementedError:  # this selector cannot load saved weights
            break
    return None, None, refused


def load_selector(name: str, kb: KnowledgeBase, weights: str | os.PathLike | None = None) -> Any:
    """A fitted selector for ``kb``: saved weights when some match this knowledge base,
    otherwise fitted now (with a warning when that takes long)."""
    from ..plugins import get_registry
    from ..selectors.base import fit_seeded

    fresh = get_registry().selector(name)()
    found, _, stale = find_saved(type(fresh), kb, weight_dirs(name, kb, [weights] if weights is not None else []))
    if found is not None:
        return found
    if weights is not None and not stale and not Path(weights).exists():
        raise KnowledgeBaseError(f"selector weights not found: {weights}")
    if name != "knn":  # knn fits in milliseconds; the networks take a while
        why = stale[0] if stale else f"no saved {name} weights for this knowledge base"
        where = f"--kb {kb.path}" if kb.path is not None else "--kb KB"
        warnings.warn(f"{why}; fitting the {name} selector now, on every call (save it once with "
                      f"`metaclust train selectors {where}`: KB/selectors/ is read automatically)",
                      stacklevel=2)
    return fit_seeded(fresh, kb, 0)
