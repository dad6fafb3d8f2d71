"""The plugin manager and the registry built from it.

Built-in backends, selectors and meta-features are registered exactly like
third-party ones (the way ``llm`` and pytest load their default plugins): the modules
in ``DEFAULT_PLUGINS`` are registered first, then every entry point in the
``metaclust`` group. A plugin that fails to import, or raises inside a hook, is
reported once as a warning naming it, and everything else keeps working.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import threading
import warnings
from collections.abc import Callable
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
        try:
            return self.backends[name]
        except KeyError:
            known = ", ".join(sorted(self.backends))
            raise ConfigError(f"unknown algorithm {name!r}; known algorithms: {known}") from None

    def selector(self, name: str) -> Callable[[], Any]:
        """The factory of the selector called ``name``."""
        try:
            return self.selectors[name]
        except KeyError:
            known = ", ".join(sorted(self.selectors)) or "none"
            raise ConfigError(f"unknown selector {name!r}; known selectors: {known}") from None

    def detector(self, name: str) -> Callable[[], Any]:
        """The factory of the anomaly detector called ``name``."""
        try:
            return self.detectors[name]
        except KeyError:
            known = ", ".join(sorted(self.detectors)) or "none"
            raise ConfigError(f"unknown detector {name!r}; known detectors: {known}") from None

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
    return _distributions.get(pm.get_name(plugin) or "", DISTRIBUTION)


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    name = pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))
    package = _package_of(pm, plugin)
    return name if package == DISTRIBUTION else f"{package} ({name})"


def _load_entry_points(pm: pluggy.PluginManager, failures: list[str]) -> None:
    # Loaded by hand rather than with pm.load_setuptools_entrypoints, so that one
    # broken plugin costs a warning and not the whole registry.
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - a plugin may raise anything
            dist = f"{ep.dist.name}: " if ep.dist is not None else ""
            msg = f"plugin {dist}{ep.name!r} ({ep.value}) failed to load and was skipped: {exc}"
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
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001
            msg = f"plugin {_plugin_label(pm, plugin)} raised in {hook_name} and was skipped: {exc}"
            registry.failures.append(msg)
            _warn_once(msg)


def build_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Ask every plugin for what it provides."""
    pm = pm or get_plugin_manager()
    reg = Registry(failures=list(getattr(pm, "_metaclust_failures", [])))

    def add_backend(backend: Any, package: str) -> None:
        name = getattr(backend, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{package} registered a backend without a name")
        if name in reg.backends:
            msg = (f"backend {name!r} from {package} ignored: already registered by "
                   f"{reg.source('backend', name)}")
            reg.failures.append(msg)
            _warn_once(msg)
            return
        reg.backends[name] = backend
        reg.sources[("backend", name)] = package

    def add_named(kind: str, table: dict[str, Any]) -> Callable[..., None]:
        def add(name: str, factory: Any, package: str) -> None:
            if name in table:
                msg = f"{kind} {name!r} from {package} ignored: already registered by {reg.source(kind, name)}"
                reg.failures.append(msg)
                _warn_once(msg)
                return
            table[name] = factory
            reg.sources[(kind, name)] = package
        return add

    def add_group(group: Any, package: str) -> None:
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
