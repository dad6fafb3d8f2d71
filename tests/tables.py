"""Small generated tables written as CSV, shared by the recommender and plugin tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def blobs_csv(directory: Path, n: int, seed: int) -> tuple[Path, np.ndarray, np.ndarray]:
    """Three 2-d blobs (``make_task("blobs3")``) as ``directory/blobs.csv`` with columns a, b;
    returns the path, the rows and their labels."""
    from metaclust_automl.generators.shapes import make_task

    X, y = make_task("blobs3", n, seed=seed)
    path = directory / "blobs.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    return path, X, y
