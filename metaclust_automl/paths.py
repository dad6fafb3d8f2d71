"""Where the package's shipped files live (``metaclust_automl/data/``): the one place that
knows the layout, so that moving a file means changing one line."""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(*parts: str) -> Path:
    """``metaclust_automl/data/PARTS...`` (the knowledge base ``kb``, selector weights
    ``selectors/NAME``, the anomaly policy ``anomaly``, the prototype rule ``weights/...``)."""
    return DATA_DIR.joinpath(*parts)


def meta_datasets_path(*parts: str) -> Path:
    """``meta_datasets/PARTS...``, the corpus definitions: the repository's directory in a source
    checkout, else the copy shipped as package data (``data/meta_datasets``)."""
    checkout = Path(__file__).resolve().parent.parent / "meta_datasets"
    return (checkout if checkout.is_dir() else data_path("meta_datasets")).joinpath(*parts)
