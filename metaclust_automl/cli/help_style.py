"""How ``--help`` names option values: ``FILE``, ``N``, ``TEXT`` as people write them.

Recent typer (0.2x) prints Python type markers in help (``<bool>`` after every flag,
``<str>``, ``<list[str]>``, ``<int range>``, ``{data}`` for a required argument). They
say nothing to a user and read as noise, so a parameter's value is shown as its metavar
when it has one, otherwise as a plain word for its type, and flags show no value at all
(as click always did). Older typer releases lack these hooks and already print click's
style; nothing is changed there.
"""
from __future__ import annotations

from typing import Any, get_args, get_origin


def _plain_type(param: Any) -> str | None:
    """A word for a parameter's value: its metavar, else its type in capitals."""
    if getattr(param, "metavar", None) is not None:
        return param.metavar
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    many = get_origin(annotation) is list
    if many:
        annotation = get_args(annotation)[0]
    if getattr(desc, "is_choice", False):
        word = "|".join(str(c) for c in (desc.choices or ()))
    else:
        word = {int: "N", float: "NUMBER", bool: "BOOLEAN"}.get(annotation, "TEXT")
    return word


def _option_type(self: Any, ctx: Any) -> str | None:  # noqa: ARG001 - typer's signature
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    return _plain_type(self)


def _argument_type(self: Any, ctx: Any) -> str | None:  # noqa: ARG001
    return None  # the argument's name (in capitals) says it; its help says what it holds


def _argument_name(self: Any) -> str:
    name = self.metavar if self.metavar is not None else str(self.name).upper()
    return name + ("..." if self.nargs != 1 else "")


def _argument_usage(self: Any) -> str:
    name = _argument_name(self)
    return name if self.required else f"[{name}]"


def install() -> None:
    """Patch typer's parameter classes (idempotent; a no-op on typer without the hooks)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # pragma: no cover - very old typer
        return
    if getattr(TyperOption, "_metaclust_help_style", False):
        return
    if hasattr(TyperOption, "display_type_rich"):
        TyperOption.display_type_rich = _option_type
    if hasattr(TyperArgument, "display_type_rich"):
        TyperArgument.display_type_rich = _argument_type
    if hasattr(TyperArgument, "_rich_display_name"):
        TyperArgument._rich_display_name = _argument_name
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = _argument_usage
    TyperOption._metaclust_help_style = True
