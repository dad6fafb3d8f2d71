"""One tiny knowledge base per test session, built from generated tables (a few seconds),
shared by the selector, recommender and estimator tests."""
from __future__ import annotations

import tempfile
from pathlib import Path

_DIR: Path | None = None

KINDS = ("blobs2", "blobs3", "blobs4", "moons", "circles", "aniso")


def tiny_kb_dir() -> Path:
    """Path of a saved tiny knowledge base with fitted knn weights in ``selectors/knn``."""
    global _DIR
    if _DIR is None:
        from metaclust_automl.selectors.knn import KNNSelector
        from metaclust_automl.selectors.tinykb import tiny_kb

        root = Path(tempfile.mkdtemp(prefix="metaclust-tinykb-"))
        kb = tiny_kb(kinds=KINDS, n=120, seed=0)
        kb.save(root / "kb")
        KNNSelector().fit(kb).save(root / "kb" / "selectors" / "knn")
        _DIR = root / "kb"
    return _DIR
