"""Built-in meta-feature groups, registered through the ``register_metafeatures`` hook
exactly like a plugin's."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ..metafeatures.density import DENSITY
from ..metafeatures.distance import DISTANCE
from ..metafeatures.general import GENERAL
from ..metafeatures.landmarkers import LANDMARKERS
from ..metafeatures.statistical import STATISTICAL

BUILTIN_GROUPS = (GENERAL, STATISTICAL, DISTANCE, DENSITY, LANDMARKERS)


@hookimpl
def register_metafeatures(register: Callable[[Any], None]) -> None:
    for group in BUILTIN_GROUPS:
        register(group)
