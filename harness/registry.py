"""Plugin discovery: entry points of the ``massbench`` group, loaded lazily and safely.

Modelled on llm's and pytest's loading: each entry point is a module of ``@hookimpl``
functions. A plugin that fails to import, or a dataset/estimator/explainer name claimed
by two plugins, is recorded as a :class:`LoadError` (with plugin name and distribution)
and never takes the other plugins down. The first claim of a name wins; the built-in
``massbench`` distribution is loaded first.
"""

from __future__ import annotations

import difflib
import importlib
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import UserError

GROUP = "massbench"
KINDS = ("dataset", "estimator", "explainer")
_HOOKS = {"dataset": "massbench_datasets", "estimator": "massbench_estimators", "explainer": "massbench_explainers"}


@dataclass
class PluginInfo:
    """One registered class and where it came from."""

    name: str
    kind: str  # dataset | estimator | explainer
    cls: type
    plugin: str  # entry-point name (or module name for directly registered plugins)
    distribution: str
    version: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(getattr(self.cls, "inputs", ()) or ())

    @property
    def framework(self) -> str:
        return str(getattr(self.cls, "framework", "") or "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "inputs": list(self.inputs),
            "framework": self.framework,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "doc": (self.cls.__doc__ or "").strip().splitlines()[0] if self.cls.__doc__ else "",
        }


@dataclass
class LoadError:
    """A plugin that could not be loaded, or a name claimed twice."""

    plugin: str
    distribution: str
    version: str
    error: str
    traceback: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version, "error": self.error}


@dataclass
class Registry:
    """Every dataset, estimator and explainer class available, by name."""

    datasets: dict[str, PluginInfo] = field(default_factory=dict)
    estimators: dict[str, PluginInfo] = field(default_factory=dict)
    explainers: dict[str, PluginInfo] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    plugins: list[tuple[str, str, str]] = field(default_factory=list)  # (plugin, distribution, version)
    pm: pluggy.PluginManager | None = None

    def table(self, kind: str) -> dict[str, PluginInfo]:
        return {"dataset": self.datasets, "estimator": self.estimators, "explainer": self.explainers}[kind]

    def get(self, kind: str, name: str, where: str = "") -> PluginInfo:
        """Look a plugin up by kind and name; unknown names raise a UserError with a suggestion."""
        table = self.table(kind)
        if name in table:
            return table[name]
        hint = difflib.get_close_matches(name, list(table), n=1)
        msg = f"{where}unknown {kind} {name!r}"
        msg += f"; did you mean {hint[0]!r}?" if hint else f"; available: {', '.join(sorted(table)) or 'none'}"
        failed = [e for e in self.errors if e.error.startswith("import failed")]
        if failed:
            msg += " (plugins that failed to load: " + ", ".join(f"{e.plugin} [{e.distribution}]" for e in failed) + ")"
        raise UserError(msg)

    def register_module(
        self, module: ModuleType | Any, plugin: str | None = None, distribution: str = "unknown", version: str = ""
    ) -> None:
        """Register a module (or object) of hookimpls directly, e.g. a plugin defined in tests."""
        assert self.pm is not None
        plugin = str(plugin or getattr(module, "__name__", None) or repr(module))
        try:
            self.pm.register(module, name=plugin)
        except Exception as exc:
            self.errors.append(LoadError(plugin, distribution, version, f"registration failed: {exc}"))
            return
        self.plugins.append((plugin, distribution, version))
        self._collect(module, plugin, distribution, version)

    def _collect(self, module: Any, plugin: str, distribution: str, version: str) -> None:
        """Call the dataset/estimator/explainer hooks that ``plugin`` registered (through ``pm.hook``)."""
        assert self.pm is not None
        for kind, hook in _HOOKS.items():
            impls = [i for i in getattr(self.pm.hook, hook).get_hookimpls() if i.plugin is module]
            if not impls:
                continue
            try:
                classes = [cls for impl in impls for cls in list(impl.function() or [])]
            except Exception as exc:
                self.errors.append(
                    LoadError(plugin, distribution, version, f"{hook}() failed: {exc!r}", traceback.format_exc())
                )
                continue
            table = self.table(kind)
            for cls in classes:
                name = getattr(cls, "name", None)
                if not isinstance(name, str) or not name:
                    self.errors.append(
                        LoadError(
                            plugin,
                            distribution,
                            version,
                            f"{kind} class {getattr(cls, '__name__', cls)!r} has no `name`",
                        )
                    )
                    continue
                if name in table:
                    other = table[name]
                    self.errors.append(
                        LoadError(
                            plugin,
                            distribution,
                            version,
                            f"{kind} name {name!r} is already claimed by plugin {other.plugin!r} "
                            f"(distribution {other.distribution}); this plugin's {kind} was ignored",
                        )
                    )
                    continue
                table[name] = PluginInfo(name, kind, cls, plugin, distribution, version)


def _dist_of(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", ""
    return dist.metadata["Name"] or "unknown", dist.version or ""


def load_registry(extra: Iterable[Any] = (), entry_point_group: str = GROUP, use_entry_points: bool = True) -> Registry:
    """Discover and load all plugins; never raises for a broken plugin.

    Modules named in the ``MASSBENCH_PLUGINS`` environment variable (comma-separated import
    paths, like ``PYTEST_PLUGINS``) and ``extra`` modules are registered after the entry
    points (tests use this to add a dataset plugin of their own).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    reg = Registry(pm=pm)
    from . import builtin

    reg.register_module(builtin, plugin="massbench", distribution="massbench", version=_own_version())
    if use_entry_points:
        eps = sorted(entry_points(group=entry_point_group), key=lambda e: (_dist_of(e)[0] != "massbench", e.name))
        for ep in eps:
            dist, version = _dist_of(ep)
            try:
                module = importlib.import_module(ep.value.split(":")[0]) if ":" not in ep.value else ep.load()
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                reg.errors.append(
                    LoadError(
                        ep.name, dist, version, f"import failed: {type(exc).__name__}: {exc}", traceback.format_exc()
                    )
                )
                continue
            reg.register_module(module, plugin=ep.name, distribution=dist, version=version)
    for modname in [m.strip() for m in os.environ.get("MASSBENCH_PLUGINS", "").split(",") if m.strip()]:
        try:
            module = importlib.import_module(modname)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            reg.errors.append(
                LoadError(
                    modname,
                    "MASSBENCH_PLUGINS",
                    "",
                    f"import failed: {type(exc).__name__}: {exc}",
                    traceback.format_exc(),
                )
            )
            continue
        reg.register_module(module, plugin=modname, distribution="MASSBENCH_PLUGINS")
    for module in extra:
        reg.register_module(module, distribution="local")
    return reg


_SHARED: Registry | None = None


def shared_registry() -> Registry:
    """The plugin registry of this process, loaded on first use (the ``massbench`` command line
    and plugins' commands share it)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = load_registry()
    return _SHARED


def _own_version() -> str:
    from . import __version__

    return __version__
