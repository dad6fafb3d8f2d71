"""Where torch runs: CUDA when present, else CPU, for every torch user (backends, selectors,
the anomaly policy). torch is imported only when a device is asked for."""
from __future__ import annotations

from typing import Any

from .errors import ConfigError


def resolve_device(name: str = "auto") -> Any:
    """The torch device for ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``;
    ConfigError when CUDA is asked for but this torch cannot use it."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda was asked for, but this torch build sees no CUDA device; "
                          "use device=cpu or device=auto")
    if name not in {"cpu", "cuda"}:
        raise ConfigError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def check_device(name: str) -> None:
    """Fail at validation, before any work, when CUDA is asked for but absent (torch is
    imported only in that case)."""
    if name == "cuda":
        resolve_device(name)
