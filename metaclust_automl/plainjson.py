"""Reading the JSON files metaclust ships and writes (manifests, selector states, policy and
rule metadata) without trusting them.

Python's ``json`` accepts what no metaclust file holds and what later code cannot survive:
a 5,000-digit integer (a ValueError from the int-to-str limit, or a value that makes
``range`` run for ever), ``NaN``/``Infinity`` (which JSON itself does not allow), nesting
deep enough to exhaust the recursion limit, and files of any size. :func:`read_json`
refuses each of them with a typed error naming the file, so a damaged or hostile file
costs one line, never an ``internal error``.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .errors import KnowledgeBaseError, MetaclustError

#: more digits than any count or seed metaclust writes (2**63 has 19)
MAX_INT_DIGITS = 20
#: deeper than any file metaclust writes (a manifest nests four levels)
MAX_DEPTH = 32
#: bigger than any metadata file metaclust writes
MAX_JSON_BYTES = 64 << 20


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer with {digits} digits")
    return int(text)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} (not a JSON number)")


def _depth(obj: Any, limit: int) -> int:
    """Nesting depth of ``obj``, scanning without recursion; stops past ``limit``."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads(text: str, what: str, error: type[MetaclustError] = KnowledgeBaseError, *,
          allow_nan: bool = False) -> Any:
    """Parse ``text`` (JSON from ``what``) or raise ``error`` saying why it is refused."""
    try:
        obj = json.loads(text, parse_int=_bounded_int,
                         parse_constant=(lambda c: float(c)) if allow_nan else _no_constant)
    except RecursionError:
        raise error(f"{what} is corrupt: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise error(f"{what} is corrupt: {str(exc).splitlines()[0][:200]}") from None
    if _depth(obj, MAX_DEPTH) > MAX_DEPTH:
        raise error(f"{what} is corrupt: JSON nested deeper than {MAX_DEPTH} levels")
    return obj


def read_json(path: str | os.PathLike, error: type[MetaclustError] = KnowledgeBaseError, *,
              allow_nan: bool = False, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read and parse the JSON file ``path`` (see :func:`loads`), refusing files over
    ``max_bytes`` before reading them."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise error(f"{p} is {size:,} bytes, more than any metaclust file ({max_bytes:,}); it is not ours")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p} is corrupt: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise error(f"cannot read {p}: {exc.strerror or exc}") from None
    return loads(text, str(p), error, allow_nan=allow_nan)


def finite_number(value: Any, what: str, *, low: float | None = None, high: float | None = None,
                  integer: bool = False, error: type[MetaclustError] = KnowledgeBaseError) -> Any:
    """``value`` checked as a finite number (an int when ``integer``) in [low, high]."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int) or (math.isfinite(value) and float(value).is_integer())
    if not ok or not math.isfinite(float(value)):
        raise error(f"{what} must be a finite {'integer' if integer else 'number'}, got {value!r}"[:300])
    if (low is not None and value < low) or (high is not None and value > high):
        raise error(f"{what} = {value!r} is out of range [{low}, {high}]")
    return int(value) if integer else float(value)
