"""The built-in backends, registered through the same hook as any plugin's."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ..backends.density import DBSCANBackend, HDBSCANBackend, MeanShiftBackend, OPTICSBackend
from ..backends.hierarchical import AgglomerativeBackend
from ..backends.partitional import BirchBackend, GMMBackend, KMeansBackend, SpectralBackend

BUILTIN_BACKENDS = (
    KMeansBackend, DBSCANBackend, HDBSCANBackend, AgglomerativeBackend, GMMBackend,
    BirchBackend, SpectralBackend, OPTICSBackend, MeanShiftBackend,
)


@hookimpl
def register_backends(register: Callable[[Any], None]) -> None:
    for cls in BUILTIN_BACKENDS:
        register(cls())
