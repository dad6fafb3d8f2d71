"""The memory budget of a backend's largest structure (``METACLUST_MEMORY_BUDGET``, else 2 GiB
or half the memory available now), and reading and writing sizes in bytes."""
from __future__ import annotations

import os
import re

from ..errors import ConfigError

#: the budget of a method's largest structure when METACLUST_MEMORY_BUDGET is not set
DEFAULT_MEMORY_BUDGET = 2 * 2**30


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def parse_bytes(text: str) -> int:
    """``"2G"``, ``"512MB"``, ``"1.5 GiB"`` or plain bytes as a number of bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise ConfigError(f"cannot read {text!r} as a memory size; write it like 2G or 512M")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2)]
    return int(float(m.group(1)) * scale)


def env_bytes(variable: str) -> int | None:
    """A positive memory size from environment ``variable`` (``2G``, ``512M``), None if unset."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    value = parse_bytes(raw)
    if value <= 0:
        raise ConfigError(f"{variable} must be positive")
    return value


def memory_budget() -> int:
    """Bytes a backend's largest structure may take: METACLUST_MEMORY_BUDGET if set, else
    2 GiB or half the memory available now, whichever is smaller."""
    value = env_bytes("METACLUST_MEMORY_BUDGET")
    if value is not None:
        return value
    available = _available_memory()
    return int(min(DEFAULT_MEMORY_BUDGET, 0.5 * available)) if available else DEFAULT_MEMORY_BUDGET


def format_bytes(value: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{int(value)} B"
