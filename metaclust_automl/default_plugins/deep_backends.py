"""The torch backends (``prototype`` and ``gan``), registered through the same hook as
any plugin's. Importing this module does not import torch: the backends import it
when they run."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ..backends.gan import GANBackend
from ..backends.prototype import PrototypeBackend

DEEP_BACKENDS = (PrototypeBackend, GANBackend)


@hookimpl
def register_backends(register: Callable[[Any], None]) -> None:
    for cls in DEEP_BACKENDS:
        register(cls())
