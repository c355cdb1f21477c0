"""The plugin manager: which plugins exist, which are active, and how hooks are called.

Three sources of plugins, one mechanism (pluggy):

* **Essential built-ins** (:data:`ESSENTIAL_PLUGINS`): the core's own default
  behaviour shipped as ordinary plugins. Always active; they cannot be disabled,
  because an invoice cannot be computed without them.
* **Bundled plugins** (:data:`BUNDLED_PLUGINS`): shipped in this package
  (``sandbox``, ``pdf_email``, ``stripe``, ``paddle``), active when listed in
  ``[plugins] enabled``.
* **Third-party plugins**: distributions that declare an entry point in the group
  ``octane.plugins`` (the entry point's name is the plugin's name). Installed is
  not enabled: they too must be listed in ``[plugins] enabled``.

Start-up stops with a :class:`~octane.core.errors.ConfigError` or
:class:`~octane.core.errors.PluginError` naming the plugin when a name is
unknown, a plugin cannot be imported or reports compatibility errors, a hook
implementation has a misspelled name or unknown arguments, or two plugins claim
the same payment provider or delivery channel.

Calling hooks: money hooks go to every active plugin (:meth:`PluginHost.call_each`,
results attributed to their plugin); action hooks go to exactly one plugin, the
owner of the provider or channel (:meth:`PluginHost.call_owner`).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, cast

import pluggy

from octane.core import hookspecs
from octane.core.contracts import DeliveryChannelInfo, PaymentProviderInfo
from octane.core.documents import DocumentStore
from octane.core.errors import ConfigError, OctaneError, PluginError
from octane.core.plugin_context import PluginContext

__all__ = [
    "BUNDLED_PLUGINS",
    "ENTRY_POINT_GROUP",
    "ESSENTIAL_PLUGINS",
    "PluginHost",
    "PluginRecord",
    "describe_plugins",
    "load_plugins",
    "resolve",
]

ENTRY_POINT_GROUP = "octane.plugins"

#: Always active, in this order of registration (the order never affects money).
ESSENTIAL_PLUGINS: dict[str, str] = {
    "pricing": "octane.core.builtin.pricing",
    "trials": "octane.core.builtin.trials",
    "discounts": "octane.core.builtin.discounts",
    "tax": "octane.core.builtin.tax",
    "credits": "octane.core.builtin.credits",
}

#: Shipped with Octane, active when enabled in config.
BUNDLED_PLUGINS: dict[str, str] = {
    "sandbox": "octane.core.builtin.sandbox",
    "pdf_email": "octane.plugins.pdf_email",
    "stripe": "octane.plugins.stripe",
    "paddle": "octane.plugins.paddle",
}

T = TypeVar("T")


@dataclass
class PluginRecord:
    """What ``octane plugins`` and the portal's Plugins page show about one plugin."""

    name: str
    origin: str
    """``essential``, ``bundled`` or ``entry point (<distribution>)``."""
    version: str
    enabled: bool
    hooks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    plugin: object | None = None


@dataclass
class _Candidate:
    name: str
    origin: str
    load: Callable[[], object]
    version: str | None = None


async def resolve(value: Any) -> Any:
    """Resolve a hook's return value: a plain value, an awaitable, or a callable of either."""
    if value is None or type(value) in _PLAIN:  # the common case, decided cheaply
        return value
    if inspect.isfunction(value) or inspect.ismethod(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


_PLAIN = (list, tuple, dict, str, int, bool)


def _octane_version() -> str:
    from octane import __version__

    return __version__


def _candidates(
    extra_plugins: Mapping[str, object], use_entry_points: bool
) -> dict[str, _Candidate]:
    found: dict[str, _Candidate] = {}
    for name, module_path in ESSENTIAL_PLUGINS.items():
        found[name] = _Candidate(name, "essential", _importer(module_path))
    for name, module_path in BUNDLED_PLUGINS.items():
        found[name] = _Candidate(name, "bundled", _importer(module_path))
    if use_entry_points:
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            origin = f"entry point ({dist.name if dist else 'unknown distribution'})"
            if entry_point.name in found:
                raise PluginError(
                    f"The plugin '{entry_point.name}' from {origin} has the same name as the "
                    f"{found[entry_point.name].origin} plugin; rename its entry point.",
                    field="plugins",
                )
            found[entry_point.name] = _Candidate(
                entry_point.name, origin, entry_point.load, dist.version if dist else None
            )
    for name, plugin in extra_plugins.items():
        found[name] = _Candidate(name, "registered", _constant(plugin))
    return found


def _constant(plugin: object) -> Callable[[], object]:
    return lambda: plugin


def _importer(module_path: str) -> Callable[[], ModuleType]:
    return lambda: importlib.import_module(module_path)


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def _hook_names() -> list[str]:
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, f"{hookspecs.PROJECT_NAME}_spec")
    )


def _register(manager: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Register ``plugin`` and turn pluggy's validation errors into a named PluginError."""
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"Plugin '{name}' has an invalid hook implementation: {exc}", field="plugins"
        ) from None
    for hook_caller in manager.get_hookcallers(plugin) or []:
        if hook_caller.spec is None:
            suggestion = difflib.get_close_matches(hook_caller.name, _hook_names(), n=1)
            hint = f" Did you mean '{suggestion[0]}'?" if suggestion else ""
            raise PluginError(
                f"Plugin '{name}' implements '{hook_caller.name}', which is not an Octane "
                f"hook.{hint} The hooks are documented in octane/core/hookspecs.py.",
                field="plugins",
            )


def _implemented_hooks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])


def _compatibility_errors(manager: pluggy.PluginManager, name: str) -> list[str]:
    errors: list[str] = []
    for impl in manager.hook.check_compatibility.get_hookimpls():
        if impl.plugin_name != name:
            continue
        try:
            result = cast("Iterable[Any] | None", impl.function())
        except Exception as exc:  # the hook must not raise; report it instead
            result = [f"check_compatibility raised {type(exc).__name__}: {exc}"]
        errors.extend(str(item) for item in result or [])
    return errors


def _version_of(candidate: _Candidate, plugin: object | None) -> str:
    if candidate.version:
        return candidate.version
    declared = getattr(plugin, "__version__", None)
    if isinstance(declared, str):
        return declared
    return _octane_version()


def _check_enabled_names(enabled: Iterable[str], known: Mapping[str, _Candidate]) -> None:
    installed = sorted(name for name, c in known.items() if c.origin != "essential")
    for name in enabled:
        if name in known:
            continue
        guess = difflib.get_close_matches(name, installed, n=1)
        hint = f"Did you mean '{guess[0]}'? " if guess else ""
        raise ConfigError(
            f"plugins.enabled: unknown plugin '{name}'. Installed plugins: "
            f"{', '.join(installed) or '(none)'}.",
            field="plugins.enabled",
            hint=f"{hint}A third-party plugin is found through its 'octane.plugins' entry point "
            "once its distribution is installed (pip install ...).",
        )


class PluginHost:
    """The active plugins of one running Octane, and the ways to call them."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        records: dict[str, PluginRecord],
        plugin_config: dict[str, Any],
    ) -> None:
        self.manager = manager
        self.records = records
        self.plugin_config = plugin_config
        self._impl_cache: dict[str, list[pluggy.HookImpl]] = {}
        """Hook implementations by hook name: the plugins are fixed once loaded."""
        self.payment_providers: dict[str, PaymentProviderInfo] = {}
        self.delivery_channels: dict[str, DeliveryChannelInfo] = {}
        self._collect_registrations()
        self._data_dir: Path | None = None
        self._documents: DocumentStore | None = None
        self._secret_key = ""
        self._contexts: dict[str, PluginContext] = {}

    # -- the running deployment ---------------------------------------------------

    def bind(self, data_dir: Path, documents: DocumentStore, secret_key: str = "") -> None:
        """Attach the deployment's data folder, document store and secret key (done when
        the Octane runtime is created)."""
        self._data_dir = data_dir
        self._documents = documents
        self._secret_key = secret_key

    @property
    def documents(self) -> DocumentStore:
        if self._documents is None:
            raise PluginError("The plugins are not bound to a running Octane yet.")
        return self._documents

    def context(self, plugin_name: str) -> PluginContext:
        """The ``context`` argument this plugin's action hooks receive (one per Octane)."""
        found = self._contexts.get(plugin_name)
        if found is None:
            if self._data_dir is None:
                raise PluginError("The plugins are not bound to a running Octane yet.")
            found = PluginContext(
                name=plugin_name,
                config=self.plugin_config.get(plugin_name),
                data_dir=self._data_dir,
                documents=self.documents,
                secret_key=self._secret_key,
            )
            self._contexts[plugin_name] = found
        return found

    async def close(self) -> None:
        """Release what plugins opened through their contexts (pools, clients)."""
        for context in self._contexts.values():
            await context.close()
        self._contexts.clear()

    # -- registrations --------------------------------------------------------

    def _collect_registrations(self) -> None:
        for plugin_name, info in self.call_registration("register_payment_providers"):
            self._claim(self.payment_providers, "payment provider", plugin_name, info)
        for plugin_name, info in self.call_registration("register_delivery_channels"):
            self._claim(self.delivery_channels, "delivery channel", plugin_name, info)

    @staticmethod
    def _claim(registry: dict[str, Any], what: str, plugin_name: str, info: Any) -> None:
        expected = PaymentProviderInfo if what == "payment provider" else DeliveryChannelInfo
        if not isinstance(info, expected):
            raise PluginError(
                f"Plugin '{plugin_name}' registered a {what} as {type(info).__name__}; "
                f"expected {expected.__name__}.",
                field="plugins",
            )
        if info.name in registry:
            raise PluginError(
                f"The {what} '{info.name}' is registered by both '{registry[info.name].plugin}' "
                f"and '{plugin_name}'; disable one of them.",
                field="plugins.enabled",
            )
        import msgspec

        registry[info.name] = msgspec.structs.replace(info, plugin=plugin_name)

    def call_registration(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call a registration hook on every active plugin; flatten the returned lists."""
        results: list[tuple[str, Any]] = []
        for impl in self._impls(hook_name):
            returned = cast("Iterable[Any] | None", impl.function())
            for item in returned or []:
                results.append((impl.plugin_name, item))
        return results

    # -- calling --------------------------------------------------------------

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        cached = self._impl_cache.get(hook_name)
        if cached is not None:
            return cached
        caller = getattr(self.manager.hook, hook_name, None)
        if caller is None:
            raise PluginError(f"There is no hook named '{hook_name}'.")
        # Sorted by plugin name: results never depend on registration order.
        impls = sorted(caller.get_hookimpls(), key=lambda impl: impl.plugin_name)
        self._impl_cache[hook_name] = impls
        return impls

    @staticmethod
    def _arguments(impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> list[Any]:
        return [kwargs[name] for name in impl.argnames]

    async def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook on every active plugin; return ``(plugin name, resolved result)``.

        None results are dropped. An exception is re-raised as a PluginError naming
        the plugin, so a faulty plugin is identified instead of failing anonymously.
        """
        results: list[tuple[str, Any]] = []
        for impl in self._impls(hook_name):
            try:
                value = impl.function(*[kwargs[name] for name in impl.argnames])
                if value is not None and type(value) not in _PLAIN:
                    value = await resolve(value)
            except Exception as exc:
                raise PluginError(
                    f"Plugin '{impl.plugin_name}' failed in {hook_name}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if value is not None:
                results.append((impl.plugin_name, value))
        return results

    async def call_owner(
        self, plugin_name: str, hook_name: str, *, expect: type[T], **kwargs: Any
    ) -> T:
        """Call one plugin's implementation of an action hook and check the result's type."""
        for impl in self._impls(hook_name):
            if impl.plugin_name == plugin_name:
                if "context" in impl.argnames:
                    kwargs = {**kwargs, "context": self.context(plugin_name)}
                value = await _named_call(impl, hook_name, self._arguments(impl, kwargs))
                if not isinstance(value, expect):
                    raise PluginError(
                        f"Plugin '{plugin_name}' returned {type(value).__name__} from "
                        f"{hook_name}; expected {expect.__name__}."
                    )
                return value
        raise PluginError(f"Plugin '{plugin_name}' does not implement {hook_name}.")

    async def call_first(self, hook_name: str, **kwargs: Any) -> tuple[str, Any] | None:
        """Call a hook plugin by plugin (by name) until one answers something not None.

        For services one plugin provides to the rest (rendering an invoice PDF): the
        ``context`` argument is filled in for the plugin being called.
        """
        for impl in self._impls(hook_name):
            arguments = kwargs
            if "context" in impl.argnames:
                arguments = {**kwargs, "context": self.context(impl.plugin_name)}
            value = await _named_call(impl, hook_name, self._arguments(impl, arguments))
            if value is not None:
                return impl.plugin_name, value
        return None

    def provider_owner(self, provider: str) -> str:
        """The plugin that owns a payment provider; a PluginError if none does."""
        info = self.payment_providers.get(provider)
        if info is None:
            raise PluginError(
                f"No active plugin provides the payment provider '{provider}'. Available: "
                f"{', '.join(sorted(self.payment_providers)) or '(none)'}.",
                field="payment_provider",
            )
        return info.plugin

    def channel_owner(self, channel: str) -> str:
        """The plugin that owns a delivery channel; a PluginError if none does."""
        info = self.delivery_channels.get(channel)
        if info is None:
            raise PluginError(
                f"No active plugin provides the delivery channel '{channel}'. Available: "
                f"{', '.join(sorted(self.delivery_channels)) or '(none)'}.",
                field="delivery_channel",
            )
        return info.plugin

    @property
    def active(self) -> list[str]:
        return sorted(name for name, record in self.records.items() if record.enabled)


async def _named_call(impl: pluggy.HookImpl, hook_name: str, arguments: list[Any]) -> Any:
    """Call one implementation; an unexpected exception becomes a PluginError naming the
    plugin and the hook. Octane's own errors (a plugin saying "not configured", say) pass
    through unchanged: they already speak to the vendor."""
    try:
        return await resolve(impl.function(*arguments))
    except OctaneError:
        raise
    except Exception as exc:
        raise PluginError(
            f"Plugin '{impl.plugin_name}' failed in {hook_name}: {type(exc).__name__}: {exc}"
        ) from exc


def load_plugins(
    enabled: Iterable[str],
    *,
    blocks: Mapping[str, Mapping[str, Any]] | None = None,
    extra_plugins: Mapping[str, object] | None = None,
    use_entry_points: bool = True,
    include_essentials: bool = True,
) -> PluginHost:
    """Load the essential plugins plus the ``enabled`` ones, validate their config blocks.

    :param enabled: Names from ``[plugins] enabled``.
    :param blocks: The raw ``[plugins.<name>]`` blocks, placeholders resolved.
    :param extra_plugins: Plugins registered directly by name (tests, embedding
        applications); they still have to be listed in ``enabled``.
    :param use_entry_points: Look up third-party plugins through entry points.
    :param include_essentials: Only for tests of the plugin machinery itself: leave out
        the core's own plugins (some read the database). Octane never runs without them.
    """
    from octane.core.config import decode_plugin_block

    enabled = list(dict.fromkeys(enabled))
    known = _candidates(extra_plugins or {}, use_entry_points)
    _check_enabled_names(enabled, known)
    for block_name in blocks or {}:
        if block_name not in known:
            _check_enabled_names([block_name], known)

    manager = _new_manager()
    records: dict[str, PluginRecord] = {}
    essentials = [n for n, c in known.items() if c.origin == "essential"]
    active = (essentials if include_essentials else []) + enabled
    for name in active:
        candidate = known[name]
        try:
            plugin = candidate.load()
        except Exception as exc:
            raise PluginError(
                f"Plugin '{name}' ({candidate.origin}) could not be imported: "
                f"{type(exc).__name__}: {exc}",
                field="plugins.enabled",
            ) from None
        _register(manager, name, plugin)
        errors = _compatibility_errors(manager, name)
        if errors:
            raise PluginError(
                f"Plugin '{name}' cannot run here: " + " ".join(errors), field="plugins.enabled"
            )
        records[name] = PluginRecord(
            name=name,
            origin=candidate.origin,
            version=_version_of(candidate, plugin),
            enabled=True,
            hooks=_implemented_hooks(manager, plugin),
            plugin=plugin,
        )
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:  # pragma: no cover - _register catches first
        raise PluginError(str(exc), field="plugins") from None

    plugin_config: dict[str, Any] = {}
    for name in records:
        schema: type[Any] | None = None
        for impl in manager.hook.plugin_config_schema.get_hookimpls():
            if impl.plugin_name == name:
                returned = impl.function()
                if returned is not None and not isinstance(returned, type):
                    raise PluginError(
                        f"Plugin '{name}' returned {type(returned).__name__} from "
                        "plugin_config_schema; expected a msgspec.Struct class."
                    )
                schema = returned
        raw = (blocks or {}).get(name, {})
        if schema is not None:
            plugin_config[name] = decode_plugin_block(name, raw, schema)
        elif raw:
            raise ConfigError(
                f"plugins.{name}: the plugin '{name}' takes no configuration, but a "
                f"[plugins.{name}] block was given.",
                field=f"plugins.{name}",
            )
    return PluginHost(manager, records, plugin_config)


def describe_plugins(
    enabled: Iterable[str],
    *,
    extra_plugins: Mapping[str, object] | None = None,
    use_entry_points: bool = True,
) -> list[PluginRecord]:
    """Every installed plugin with its version, hooks, enabled state and problems.

    Unlike :func:`load_plugins` this never stops at the first problem: a plugin
    that cannot be imported or is incompatible is listed with its errors.
    """
    enabled_set = set(enabled)
    records: list[PluginRecord] = []
    for name, candidate in sorted(_candidates(extra_plugins or {}, use_entry_points).items()):
        record = PluginRecord(
            name=name,
            origin=candidate.origin,
            version=candidate.version or "",
            enabled=candidate.origin == "essential" or name in enabled_set,
        )
        try:
            plugin = candidate.load()
        except Exception as exc:
            record.errors.append(f"cannot be imported: {type(exc).__name__}: {exc}")
            record.version = record.version or "?"
            records.append(record)
            continue
        manager = _new_manager()
        try:
            _register(manager, name, plugin)
        except PluginError as exc:
            record.errors.append(exc.message)
        record.hooks = _implemented_hooks(manager, plugin)
        record.errors.extend(_compatibility_errors(manager, name))
        record.version = _version_of(candidate, plugin)
        record.plugin = plugin
        records.append(record)
    return records
