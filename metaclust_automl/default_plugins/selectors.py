"""The built-in selectors, registered through the same hook as any plugin's."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl


def _knn() -> Any:
    from ..selectors.knn import KNNSelector

    return KNNSelector()


def _maml() -> Any:
    from ..selectors.maml import MAMLSelector

    return MAMLSelector()


def _rl2() -> Any:
    from ..selectors.rl2 import RL2Selector

    return RL2Selector()


@hookimpl
def register_selectors(register: Callable[[str, Any], None]) -> None:
    # factories import their module on first use, so registering costs nothing
    register("knn", _knn)
    register("maml", _maml)
    register("rl2", _rl2)
