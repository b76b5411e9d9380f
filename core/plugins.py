"""The plugin manager, the module registry and calling hooks for one event's enabled modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import current_app

from core import hookspecs

hookimpl = pluggy.HookimplMarker("daihoi")
ENTRY_POINT_GROUP = "daihoi.plugins"


@dataclass(frozen=True)
class ModuleInfo:
    """What a plugin declares about one event module."""

    name: str
    title: Any
    description: Any = ""
    depends: tuple[str, ...] = ()
    icon: str = "▣"


@dataclass
class MenuItem:
    label: Any
    endpoint: str
    icon: str = ""
    order: int = 100
    values: dict = field(default_factory=dict)


@dataclass
class Widget:
    title: Any
    template: str
    context: dict = field(default_factory=dict)
    order: int = 100


class ModuleRegistry:
    """Modules declared by the registered plugins, with the plugin object behind each."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.modules: dict[str, ModuleInfo] = {}
        self.plugin_of: dict[str, object] = {}
        for impl in pm.hook.daihoi_modules.get_hookimpls():
            for info in impl.function() or ():
                if info.name in self.modules:
                    raise RuntimeError(f"module {info.name!r} is declared twice")
                self.modules[info.name] = info
                self.plugin_of[info.name] = impl.plugin
        for info in self.modules.values():
            missing = [d for d in info.depends if d not in self.modules]
            if missing:
                raise RuntimeError(f"module {info.name!r} depends on unknown {missing}")

    def dependencies(self, name: str) -> list[str]:
        """All modules `name` needs, transitively, nearest first."""
        seen: list[str] = []
        stack = list(self.modules[name].depends)
        while stack:
            dep = stack.pop(0)
            if dep not in seen:
                seen.append(dep)
                stack.extend(self.modules[dep].depends)
        return seen

    def dependents(self, name: str) -> list[str]:
        """Modules that need `name`, directly or through others."""
        return [m for m in self.modules if name in self.dependencies(m)]

    def ordered(self) -> list[ModuleInfo]:
        return sorted(self.modules.values(), key=lambda m: m.name)


def make_plugin_manager(extra_plugins: tuple = (), load_entry_points: bool = True):
    pm = pluggy.PluginManager("daihoi")
    pm.add_hookspecs(hookspecs)
    from core import builtin_hooks

    pm.register(builtin_hooks, name="core")
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    return pm


def get_pm() -> pluggy.PluginManager:
    return current_app.extensions["daihoi_pm"]


def get_registry() -> ModuleRegistry:
    return current_app.extensions["daihoi_modules"]


def event_hook(event, name: str):
    """The hook `name` called only on core and the modules enabled for `event`.

    Like pytest's per-path plugins, built on pluggy's subset_hook_caller: disabled modules'
    implementations are simply not called.
    """
    from core.modules import enabled_modules

    registry = get_registry()
    enabled = enabled_modules(event)
    off = {registry.plugin_of[m] for m in registry.modules if m not in enabled}
    # A plugin providing several modules is called when any one of them is on.
    on = {registry.plugin_of[m] for m in enabled if m in registry.plugin_of}
    return get_pm().subset_hook_caller(name, remove_plugins=list(off - on))


def flatten(results) -> list:
    out: list = []
    for r in results:
        if r:
            out.extend(r)
    return out
