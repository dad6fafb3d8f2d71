"""Parameter specifications shared by the CLI (``--set key=value``), validation and
Optuna search spaces, so that the three never disagree about a parameter.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Param:
    """One parameter of a backend.

    ``kind`` is ``"int"``, ``"float"``, ``"categorical"`` or ``"bool"``. ``low``/``high``
    bound valid values (inclusive); ``search_low``/``search_high`` narrow the Optuna
    search range where the valid range is wider. ``search`` says whether Optuna
    searches it: only scale-free parameters are searched, so that a configuration
    found on one table transfers to another. ``default=None`` means "derived from
    the table" (for example eps from ``eps_quantile``).
    """

    name: str
    kind: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False
    search: bool = True
    search_low: float | None = None
    search_high: float | None = None
    help: str = ""

    def parse(self, raw: Any) -> Any:
        """Convert and check a value (a string from the command line, or a Python value)."""
        if raw is None:
            return None
        if isinstance(raw, str) and raw.strip().lower() in {"none", "null", "auto"} and self.default is None:
            return None
        try:
            if self.kind == "int":
                if isinstance(raw, bool):
                    raise ValueError
                value: Any = float(raw) if isinstance(raw, str) else raw
                if not math.isfinite(float(value)):  # 1e400 reads as inf
                    raise ValueError
                if float(value) != int(float(value)):
                    raise ValueError
                value = int(float(value))
            elif self.kind == "float":
                if isinstance(raw, bool):
                    raise ValueError
                value = float(raw)
                if not math.isfinite(value):
                    raise ValueError
            elif self.kind == "bool":
                if isinstance(raw, str):
                    low = raw.strip().lower()
                    if low not in {"true", "false", "1", "0", "yes", "no"}:
                        raise ValueError
                    value = low in {"true", "1", "yes"}
                else:
                    value = bool(raw)
            elif self.kind == "categorical":
                value = raw
                if isinstance(raw, str):
                    for choice in self.choices:
                        if str(choice) == raw:
                            value = choice
                            break
                if value not in self.choices:
                    options = ", ".join(str(c) for c in self.choices)
                    raise ConfigError(f"parameter {self.name}={raw!r} is not one of: {options}")
                return value
            else:  # pragma: no cover - programming error in a backend
                raise ConfigError(f"parameter {self.name} has unknown kind {self.kind!r}")
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"parameter {self.name}={raw!r} is not a valid {self.kind}") from None
        if self.low is not None and value < self.low or self.high is not None and value > self.high:
            raise ConfigError(f"parameter {self.name}={value} is out of range [{self._range()}]")
        return value

    def _range(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{lo}, {hi}"

    def suggest(self, trial: Any) -> Any:
        """Draw a value from an Optuna trial."""
        lo = self.search_low if self.search_low is not None else self.low
        hi = self.search_high if self.search_high is not None else self.high
        if self.kind == "int":
            return trial.suggest_int(self.name, int(lo), int(hi), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, float(lo), float(hi), log=self.log)
        if self.kind == "bool":
            return trial.suggest_categorical(self.name, [False, True])
        return trial.suggest_categorical(self.name, list(self.choices))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (used by ``metaclust plugins --json``)."""
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": self.default,
                               "searched": self.search, "help": self.help}
        if self.kind in {"int", "float"}:
            out["low"], out["high"] = self.low, self.high
            if self.search:
                out["search_range"] = [self.search_low if self.search_low is not None else self.low,
                                       self.search_high if self.search_high is not None else self.high]
                out["log"] = self.log
        if self.kind == "categorical":
            out["choices"] = list(self.choices)
        return out


PREPROCESS = Param(
    "preprocess", "categorical", default="none",
    choices=("none", "standard", "robust", "minmax", "pca_whiten"),
    help="feature transform applied before clustering (part of the configuration)",
)


@dataclass(frozen=True)
class ParamSpace:
    """The parameters of one backend, with validation of whole parameter dicts."""

    params: Sequence[Param] = field(default_factory=tuple)
    exclusive: Sequence[tuple[str, str]] = ()

    def by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def validate(self, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """Complete ``values`` with defaults, converting and checking each one."""
        specs = self.by_name()
        unknown = [k for k in values if k not in specs]
        if unknown:
            known = ", ".join(specs)
            raise ConfigError(f"unknown parameter {unknown[0]!r} for {owner}; its parameters are: {known}")
        out = {name: spec.default for name, spec in specs.items()}
        for key, raw in values.items():
            out[key] = specs[key].parse(raw)
        for a, b in self.exclusive:
            if a in values and b in values and values[a] is not None and values[b] is not None:
                raise ConfigError(f"{owner}: set either {a} or {b}, not both")
        return out

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Draw one configuration of the searched (scale-free) parameters."""
        return {p.name: p.suggest(trial) for p in self.params if p.search}


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """Parse ``["k=v", ...]`` from the command line."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key] = value.strip()
    return out
