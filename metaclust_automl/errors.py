"""Typed errors: the library raises these, the CLI turns them into one line on stderr.

Every message must tell the user what to do, because it is all they will see.
"""
from __future__ import annotations


class MetaclustError(Exception):
    """Base class of every error that metaclust raises on purpose."""

    exit_code = 1


class DataError(MetaclustError, ValueError):
    """The input table cannot be read or is not usable as a float matrix."""

    exit_code = 2


class NonNumericError(DataError):
    """Columns that are not numbers: the loader's fast route hands such a table to the
    route that can encode categorical columns (``encoding.py``)."""


class ConfigError(MetaclustError, ValueError):
    """An unknown algorithm, an unknown parameter or a value out of range."""

    exit_code = 2


class BackendError(MetaclustError, RuntimeError):
    """A clustering backend failed or timed out on this table."""


class KnowledgeBaseError(MetaclustError, ValueError):
    """A knowledge base or weights file is missing, corrupt, tampered with or foreign."""


class PluginError(MetaclustError, RuntimeError):
    """A plugin broke the registry contract (for example two backends of one name)."""
