"""The plugin manager and the registry built from it.

Built-in backends, selectors and meta-features are registered exactly like
third-party ones (the way ``llm`` and pytest load their default plugins): the modules
in ``DEFAULT_PLUGINS`` are registered first, then every entry point in the
``metaclust`` group. A plugin that fails to import, or raises inside a hook, is
reported once as a warning naming it, and everything else keeps working.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import DISTRIBUTION, hookspecs
from .errors import ConfigError, PluginError

ENTRY_POINT_GROUP = "metaclust"

#: Modules holding the built-in hook implementations.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "metaclust_automl.default_plugins.backends",
    "metaclust_automl.default_plugins.deep_backends",
    "metaclust_automl.default_plugins.metafeatures",
    "metaclust_automl.default_plugins.selectors",
    "metaclust_automl.default_plugins.detectors",
)


class PluginWarning(UserWarning):
    """A plugin could not be loaded or one of its hooks raised; it was skipped."""


#: the distribution name of what this package registers itself
BUILTIN = DISTRIBUTION
#: what a plugin's code may raise and still cost only a warning: anything but Ctrl-C (a
#: plugin's ``sys.exit(7)`` must not end the command with 7)
CONTAINED = (Exception, SystemExit)


def _why(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


@contextlib.contextmanager
def contained_stdout() -> Iterator[None]:
    """Plugin code runs with ``print`` going to stderr: the CLI's stdout carries results
    (``cluster -o -`` writes labels there) and nothing else."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _plain_name(name: str) -> bool:
    """A name that is safe wherever it is shown or typed: printable, no spaces, no brackets
    (rich would read ``[/red]`` as markup), at most 64 characters."""
    return (0 < len(name) <= 64 and name.isprintable() and not any(c.isspace() for c in name)
            and "[" not in name and "]" not in name)


def _backend_problem(backend: Any, name: str) -> str:
    """Why a plugin's backend cannot be listed or run, checked once in the parent: a name
    that is not a plain word, or a ``describe()`` that raises or returns something else."""
    if not _plain_name(name):
        return "has a name that is not a plain word"
    try:
        with contained_stdout():
            info = backend.describe()
        if not isinstance(info, dict) or not isinstance(info.get("parameters", []), list):
            return "describe() did not return a description"
        json.dumps(info, default=str)
    except CONTAINED as exc:
        return f"raised in describe() ({_why(exc)})"
    return ""


def _group_problem(group: Any) -> str:
    name = getattr(group, "name", None)
    if not isinstance(name, str) or not _plain_name(name):
        return "has no plain name"
    features = getattr(group, "features", None)
    if not isinstance(features, dict) or not all(isinstance(f, str) and _plain_name(f) for f in features):
        return "does not name its features"
    if not callable(getattr(group, "compute", None)):
        return "has no compute function"
    return ""


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    """``table[name]``, or a ConfigError naming what is unknown and listing the known names."""
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise ConfigError(f"unknown {what} {name!r}; known {what}s: {known}") from None


@dataclass
class Registry:
    """What the plugins registered, with the package each entry came from."""

    backends: dict[str, Any] = field(default_factory=dict)
    selectors: dict[str, Callable[[], Any]] = field(default_factory=dict)
    metafeature_groups: dict[str, Any] = field(default_factory=dict)
    detectors: dict[str, Callable[[], Any]] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def backend(self, name: str) -> Any:
        """The backend called ``name``, or a ConfigError that lists the known ones."""
        return _lookup(self.backends, name, "algorithm")

    def selector(self, name: str) -> Callable[[], Any]:
        """The factory of the selector called ``name``."""
        return _lookup(self.selectors, name, "selector")

    def detector(self, name: str) -> Callable[[], Any]:
        """The factory of the anomaly detector called ``name``."""
        return _lookup(self.detectors, name, "detector")

    def source(self, kind: str, name: str) -> str:
        return self.sources.get((kind, name), "?")


_lock = threading.Lock()
_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, PluginWarning, stacklevel=3)


#: plugin name (as registered with the manager) -> distribution that provides it
_distributions: dict[str, str] = {}


def _package_of(pm: pluggy.PluginManager, plugin: object) -> str:
    return _distributions.get(pm.get_name(plugin) or "", BUILTIN)


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    name = pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))
    package = _package_of(pm, plugin)
    return name if package == BUILTIN else f"{package} ({name})"


def _load_entry_points(pm: pluggy.PluginManager, failures: list[str]) -> None:
    # Loaded by hand rather than with pm.load_setuptools_entrypoints, so that one
    # broken plugin costs a warning and not the whole registry.
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            with contained_stdout():
                plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except CONTAINED as exc:  # a plugin may raise anything, sys.exit() included
            dist = f"{ep.dist.name}: " if ep.dist is not None else ""
            msg = f"plugin {dist}{ep.name!r} ({ep.value}) failed to load and was skipped: {_why(exc)}"
            failures.append(msg)
            _warn_once(msg)
            continue
        if ep.dist is not None:
            _distributions[ep.name] = ep.dist.name


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            failures: list[str] = []
            for module_name in DEFAULT_PLUGINS:
                pm.register(importlib.import_module(module_name), name=module_name)
            _load_entry_points(pm, failures)
            pm._metaclust_failures = failures  # type: ignore[attr-defined]
            _pm = pm
        return _pm


def _collect(pm: pluggy.PluginManager, hook_name: str, kind: str, add: Callable[..., None],
             registry: Registry) -> None:
    """Call each implementation of one hook on its own, so that one that raises is skipped."""
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        plugin = impl.plugin
        package = _package_of(pm, plugin)

        def register(*args: Any, _package: str = package) -> None:
            add(*args, package=_package)

        try:
            with contained_stdout():
                impl.function(register=register)
        except PluginError:
            if package == BUILTIN:
                raise
            msg = f"plugin {_plugin_label(pm, plugin)} broke the registry contract in {hook_name}; skipped"
            registry.failures.append(msg)
            _warn_once(msg)
        except CONTAINED as exc:
            msg = f"plugin {_plugin_label(pm, plugin)} raised in {hook_name} and was skipped: {_why(exc)}"
            registry.failures.append(msg)
            _warn_once(msg)


def build_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Ask every plugin for what it provides."""
    pm = pm or get_plugin_manager()
    reg = Registry(failures=list(getattr(pm, "_metaclust_failures", [])))

    def add_backend(backend: Any, package: str) -> None:
        name = getattr(backend, "name", None)
        if not isinstance(name, str) or not name:
            if package == BUILTIN:
                raise PluginError(f"{package} registered a backend without a name")
            skip(f"plugin {package} registered a backend without a name; it was skipped")
            return
        if package != BUILTIN:
            problem = _backend_problem(backend, name)
            if problem:
                skip(f"plugin {package}: backend {name!r} {problem}; it was skipped")
                return
        if name in reg.backends:
            msg = (f"backend {name!r} from {package} ignored: already registered by "
                   f"{reg.source('backend', name)}")
            reg.failures.append(msg)
            _warn_once(msg)
            return
        reg.backends[name] = backend
        reg.sources[("backend", name)] = package

    def skip(msg: str) -> None:
        reg.failures.append(msg)
        _warn_once(msg)

    def add_named(kind: str, table: dict[str, Any]) -> Callable[..., None]:
        def add(name: str, factory: Any, package: str) -> None:
            if not isinstance(name, str) or not name.isidentifier() and not _plain_name(name):
                skip(f"plugin {package} registered a {kind} entry with a bad name ({str(name)[:40]!r}); skipped")
                return
            if name in table:
                msg = f"{kind} {name!r} from {package} ignored: already registered by {reg.source(kind, name)}"
                reg.failures.append(msg)
                _warn_once(msg)
                return
            table[name] = factory
            reg.sources[(kind, name)] = package
        return add

    def add_group(group: Any, package: str) -> None:
        if package != BUILTIN:
            problem = _group_problem(group)
            if problem:
                skip(f"plugin {package}: meta-feature group {str(getattr(group, 'name', '?'))[:40]!r} {problem}; "
                     "it was skipped")
                return
        add_named("metafeatures", reg.metafeature_groups)(group.name, group, package)

    _collect(pm, "register_backends", "backend", add_backend, reg)
    _collect(pm, "register_selectors", "selector", add_named("selector", reg.selectors), reg)
    _collect(pm, "register_metafeatures", "metafeatures", add_group, reg)
    _collect(pm, "register_detectors", "detector", add_named("detector", reg.detectors), reg)
    return reg


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    pm = get_plugin_manager()
    with _lock:
        if _registry is None:
            _registry = build_registry(pm)
        return _registry


def reset() -> None:
    """Forget the plugin manager and registry (tests install plugins at run time)."""
    global _pm, _registry
    with _lock:
        _pm = None
        _registry = None
        _warned.clear()
