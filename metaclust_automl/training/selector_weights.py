"""Fit selectors on a knowledge base and save them where ``recommend`` looks first.

``recommend --kb KB`` loads ``KB/selectors/NAME`` (``recommend.weights.weights_dir``) when its fingerprint matches KB, and
fits the selector again on every call otherwise (the maml networks take a minute). Both
``metaclust train kb`` (as its last step) and ``metaclust train selectors`` call
:func:`train_and_save`, so a knowledge base comes out ready to use.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..knowledge_base import KnowledgeBase

#: the selectors trained when none are named (the built-in meta-learners)
DEFAULT_SELECTORS = ("knn", "maml", "rl2")


def check_selector_dirs(out_dir: Path, names: list[str] | tuple[str, ...]) -> None:
    """OUT/NAME is replaced whole: refuse (DataError) a directory there that holds other
    files than a selector's, before any training."""
    from ..errors import DataError

    for name in names:
        sub = Path(out_dir) / name
        if sub.is_dir() and any(sub.iterdir()) and not (sub / "selector.json").is_file():
            raise DataError(f"cannot write the {name} selector to {sub}: the directory holds other files, "
                            "which writing it would delete; choose another -o/--output")


def train_and_save(kb: KnowledgeBase, out_dir: str | os.PathLike, names: list[str] | tuple[str, ...], *,
                   seed: int = 0, progress: bool = True) -> list[dict[str, Any]]:
    """Fit each named selector on ``kb`` and save it to ``out_dir/NAME``; returns one
    ``{selector, seconds, validation_top1, path}`` per selector. Unknown names fail before
    any work; a plugin's selector that cannot save is reported (``path`` None), not fatal."""
    from ..plugins import get_registry
    from ..selectors.base import fit_seeded
    from .progress import Bar

    reg = get_registry()
    factories = {n: reg.selector(n) for n in names}
    out = Path(out_dir)
    check_selector_dirs(out, names)
    out.mkdir(parents=False, exist_ok=True)
    report: list[dict[str, Any]] = []
    with Bar(progress, "selectors", len(names)) as bar:
        bar.phase("selectors", len(names), done="selectors trained")
        for name in names:
            bar.show(f"training selector {name} on {len(kb.tasks)} tasks x {len(kb.configs)} configurations")
            start = time.perf_counter()
            sel = fit_seeded(factories[name](), kb, seed)
            path: str | None = str(out / name)
            try:
                sel.save(out / name)
            except NotImplementedError:
                path = None
            report.append({"selector": name, "seconds": round(time.perf_counter() - start, 1),
                           "validation_top1": getattr(sel, "val_top1_", getattr(sel, "val_top1", None)), "path": path})
            bar.advance()
    return report
