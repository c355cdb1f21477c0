"""Configuration: ``octane.toml`` plus ``OCTANE_*`` environment variables, validated.

Precedence, lowest first: defaults, the TOML file, environment variables. The
file is ``--config PATH``, else ``$OCTANE_CONFIG``, else ``./octane.toml`` when
it exists. Environment variables are ``OCTANE_<KEY>`` for top-level keys and
``OCTANE_<SECTION>__<KEY>`` for nested ones (``OCTANE_WEB__PORT=9000``); lists
are comma-separated (``OCTANE_PLUGINS__ENABLED=sandbox,stripe``).

Any string value in the file may be a placeholder, resolved before validation:
``{ "$env" = "NAME" }`` (an environment variable) or ``{ "$file" = "/path" }``
(a file's contents, stripped). Values that came from placeholders are masked when
the configuration is printed.

A bad configuration raises one :class:`~octane.core.errors.ConfigError` naming
the key, the expected type, the value found, where it came from, and a hint.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit, urlunsplit

import msgspec

from octane.core.errors import ConfigError

__all__ = [
    "OctaneConfig",
    "PluginsConfig",
    "WebConfig",
    "WorkerConfig",
    "decode_plugin_block",
    "load_config",
    "render_effective_config",
]

T = TypeVar("T")

#: Variables with the OCTANE_ prefix that are not configuration keys.
NON_CONFIG_VARIABLES = frozenset({"OCTANE_CONFIG", "OCTANE_PICCOLO_DEV_DB"})
NON_CONFIG_PREFIXES = ("OCTANE_TEST_",)
MASK = "****"


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class WebConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """``[web]``: the HTTP server (API and portal)."""

    host: Annotated[str, _doc("Interface the web server listens on.")] = "127.0.0.1"
    port: Annotated[int, _doc("TCP port of the web server."), msgspec.Meta(ge=1, le=65535)] = 8000
    processes: Annotated[
        int,
        _doc(
            "Processes `octane web` starts on the port (each with its own socket): a Python "
            "process uses one core, so about one per core (POSIX only; `octane serve` runs one)."
        ),
        msgspec.Meta(ge=1, le=64),
    ] = 1
    public_url: Annotated[
        str | None,
        _doc(
            "The address users and providers reach Octane at (links in emails, OAuth "
            "callbacks, webhook URLs). Defaults to http://<host>:<port>."
        ),
    ] = None
    cookie_secure: Annotated[
        bool,
        _doc("Send portal cookies only over HTTPS. Set to false only for local plain-HTTP use."),
    ] = True
    session_idle_minutes: Annotated[
        int, _doc("A portal session ends after this many idle minutes."), msgspec.Meta(ge=1)
    ] = 30
    session_absolute_hours: Annotated[
        int,
        _doc("A portal session ends this many hours after login, however active."),
        msgspec.Meta(ge=1),
    ] = 12


class WorkerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """``[worker]``: the background job worker."""

    concurrency: Annotated[
        int, _doc("Jobs a worker process runs at once."), msgspec.Meta(ge=1, le=1000)
    ] = 10
    batch_concurrency: Annotated[
        int,
        _doc(
            "Billing batches (closing cycles, finalizing invoices, up to 1,000 customers "
            "each) a worker process runs at once, besides its other jobs. Two keep a "
            "core busy with Python while the database writes the other batch; more only "
            "contend, and leave the batches a second worker could take."
        ),
        msgspec.Meta(ge=1, le=100),
    ] = 2
    sweep_seconds: Annotated[
        int,
        _doc(
            "How often the sweep re-derives due work (cycles to close, invoices to "
            "finalize, payments to collect) from the database and hands it out as jobs. "
            "Every worker runs the sweep loop; the workers of a queue take turns, so the "
            "whole fleet sweeps once per interval."
        ),
        msgspec.Meta(ge=1, le=3600),
    ] = 60


class PluginsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """``[plugins]``: which plugins are active, and their own ``[plugins.<name>]`` blocks."""

    enabled: Annotated[
        list[str],
        _doc(
            "Optional plugins to activate: bundled ones (sandbox, pdf_email, stripe, "
            "paddle) or installed third-party ones. The core's own plugins are always on."
        ),
    ] = msgspec.field(default_factory=lambda: ["sandbox", "pdf_email"])
    blocks: Annotated[
        dict[str, dict[str, Any]],
        _doc(
            "Each plugin's configuration, written as a [plugins.<name>] table; "
            "validated by the plugin's own schema."
        ),
    ] = msgspec.field(default_factory=dict)


class OctaneConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The whole configuration of one Octane deployment."""

    data_dir: Annotated[
        str,
        _doc(
            "Folder for the SQLite database, the embedded Redis, stored PDFs and the "
            "generated secret key. Relative paths are resolved against the working directory."
        ),
    ] = "./octane-data"
    database_url: Annotated[
        str | None,
        _doc(
            "sqlite:///path/to/file.sqlite3 or postgresql://user:pass@host:5432/db. "
            "Unset: a SQLite file octane.sqlite3 in data_dir."
        ),
    ] = None
    sqlite_synchronous: Annotated[
        Literal["full", "normal"],
        _doc(
            "SQLite durability (ignored on PostgreSQL). full: every commit is flushed to "
            "disk, so an acknowledged write survives a power cut. normal: commits are not "
            "flushed (WAL mode); the database stays consistent and survives a crash of the "
            "process, but the last writes before a power cut or OS crash can be lost, in "
            "exchange for cheaper commits (it matters where flushing to disk is slow)."
        ),
    ] = "full"
    redis_url: Annotated[
        str | None,
        _doc(
            "redis://, rediss:// or unix:// address of the Redis behind the job queue. "
            "Unset: a Redis server embedded in data_dir (one machine only)."
        ),
    ] = None
    secret_key: Annotated[
        Annotated[str, msgspec.Meta(min_length=32)] | None,
        _doc(
            "Signs portal sessions and encrypts provider secrets at rest (32+ characters). "
            "Unset: generated once into data_dir; set it when running several machines."
        ),
    ] = None
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"], _doc("Logging verbosity.")
    ] = "info"
    web: Annotated[WebConfig, _doc("The HTTP server.")] = msgspec.field(default_factory=WebConfig)
    worker: Annotated[WorkerConfig, _doc("The background worker.")] = msgspec.field(
        default_factory=WorkerConfig
    )
    plugins: Annotated[PluginsConfig, _doc("Plugins and their settings.")] = msgspec.field(
        default_factory=PluginsConfig
    )
    secret_paths: frozenset[str] = frozenset()
    """Keys whose values came from ``$env``/``$file`` placeholders (masked when printed)."""

    def data_path(self) -> Path:
        """``data_dir`` as an absolute path."""
        return Path(self.data_dir).expanduser().resolve()

    def resolved_database_url(self) -> str:
        """The database URL, with the embedded SQLite default and absolute SQLite paths."""
        if self.database_url is None:
            return f"sqlite:///{self.data_path() / 'octane.sqlite3'}"
        if self.database_url.startswith("sqlite:///"):
            path = Path(self.database_url[len("sqlite:///") :])
            return f"sqlite:///{path.expanduser().resolve()}"
        return self.database_url


# ---------------------------------------------------------------------- loading

_SECTIONS: dict[str, type[msgspec.Struct]] = {
    "web": WebConfig,
    "worker": WorkerConfig,
    "plugins": PluginsConfig,
}


def _fields(struct: type[msgspec.Struct]) -> list[str]:
    return [f for f in struct.__struct_fields__ if f not in ("secret_paths", "blocks")]


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def _expected(struct: type[msgspec.Struct], name: str) -> str:
    hint = get_type_hints(struct, include_extras=True).get(name)
    return _type_name(hint) if hint is not None else "a value"


def _type_name(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Annotated:
        return _type_name(get_args(hint)[0])
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(hint))
    if origin is list:
        return "a list of strings"
    if origin in (dict, Mapping):
        return "a table"
    args = get_args(hint)
    if args and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return _type_name(inner[0]) + " (or unset)"
    return {str: "a string", int: "an integer", bool: "true or false"}.get(hint, "a table")


def _resolve_placeholders(
    value: Any, path: str, env: Mapping[str, str], secret_paths: set[str], source: str
) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$env"}:
            name = value["$env"]
            if not isinstance(name, str) or name not in env:
                raise ConfigError(
                    f"{path}: the environment variable {name!r} is not set ({source}).",
                    field=path,
                    hint=f"Set {name} in the environment, or write the value in the file.",
                )
            secret_paths.add(path)
            return env[name]
        if set(value) == {"$file"}:
            file_name = value["$file"]
            try:
                text = Path(str(file_name)).read_text()
            except OSError as exc:
                raise ConfigError(
                    f"{path}: cannot read the file {file_name!r}: {exc.strerror} ({source}).",
                    field=path,
                    hint="Point $file at a readable file that holds only the value.",
                ) from None
            secret_paths.add(path)
            return text.strip()
        return {
            key: _resolve_placeholders(
                item, f"{path}.{key}" if path else key, env, secret_paths, source
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _resolve_placeholders(item, f"{path}[{i}]", env, secret_paths, source)
            for i, item in enumerate(value)
        ]
    return value


def _read_file(path: Path | None) -> tuple[dict[str, Any], str]:
    if path is None:
        return {}, "defaults"
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), str(path)
    except FileNotFoundError:
        raise ConfigError(
            f"The configuration file {path} does not exist.",
            field="config",
            hint="Pass an existing file with --config or OCTANE_CONFIG, or create octane.toml.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}.",
            field="config",
            hint="Check quotes, brackets and that every key has a value.",
        ) from None


def _config_file(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        return Path(path)
    if env.get("OCTANE_CONFIG"):
        return Path(env["OCTANE_CONFIG"])
    default = Path("octane.toml")
    return default if default.exists() else None


def _env_value(raw: str, struct: type[msgspec.Struct], name: str) -> Any:
    """Turn an environment string into the JSON-ish value the field expects."""
    hint = get_type_hints(struct, include_extras=True)[name]
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    args = [a for a in get_args(hint) if a is not type(None)]
    base = args[0] if get_origin(hint) is not list and args else hint
    if get_origin(hint) is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if base is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return raw
    if base is int:
        try:
            return int(raw.strip())
        except ValueError:
            return raw
    return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str], origins: dict[str, str]) -> None:
    top_fields = _fields(OctaneConfig)
    known: list[str] = []
    for field_name in top_fields:
        if field_name in _SECTIONS:
            known += [
                f"OCTANE_{field_name.upper()}__{sub.upper()}"
                for sub in _fields(_SECTIONS[field_name])
            ]
        else:
            known.append(f"OCTANE_{field_name.upper()}")
    for variable, raw in sorted(env.items()):
        if not variable.startswith("OCTANE_") or variable in NON_CONFIG_VARIABLES:
            continue
        if variable.startswith(NON_CONFIG_PREFIXES):
            continue
        if variable not in known:
            guess = difflib.get_close_matches(variable, known, n=1)
            raise ConfigError(
                f"{variable}: this environment variable is not an Octane setting.",
                field=variable,
                hint=(f"Did you mean {guess[0]}? " if guess else "")
                + "Nested keys use a double underscore, e.g. OCTANE_WEB__PORT.",
            )
        section, _, key = variable[len("OCTANE_") :].lower().partition("__")
        if key:
            struct = _SECTIONS[section]
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                data[section] = {}
            data[section][key] = _env_value(raw, struct, key)
            origins[f"{section}.{key}"] = variable
        else:
            data[section] = _env_value(raw, OctaneConfig, section)
            origins[section] = variable


def _split_plugin_blocks(data: dict[str, Any], source: str) -> None:
    plugins = data.get("plugins")
    if plugins is None:
        return
    if not isinstance(plugins, dict):
        raise ConfigError(
            f"plugins: expected a table, found {_describe(plugins)} ({source}).",
            field="plugins",
            hint='Write [plugins] with enabled = ["..."].',
        )
    blocks: dict[str, Any] = {}
    for key in list(plugins):
        if key == "enabled":
            continue
        value = plugins.pop(key)
        if not isinstance(value, dict):
            raise ConfigError(
                f"plugins.{key}: unknown key; expected 'enabled' or a [plugins.{key}] table "
                f"for the plugin '{key}', found {_describe(value)} ({source}).",
                field=f"plugins.{key}",
                hint="Plugin settings go in their own table: [plugins.<name>].",
            )
        blocks[key] = value
    plugins["blocks"] = blocks


_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _path_to_key(msgspec_path: str) -> str:
    return msgspec_path.lstrip(".").replace("].", "]").replace("[", ".").replace("]", "")


def _lookup(data: Any, key: str) -> Any:
    current = data
    for part in key.split(".") if key else []:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _struct_at(root: type[msgspec.Struct], key: str) -> type[msgspec.Struct] | None:
    struct: type[msgspec.Struct] | None = root
    for part in key.split(".") if key else []:
        if struct is None:
            return None
        struct = _SECTIONS.get(part) if struct is OctaneConfig else None
    return struct


def _translate(
    exc: msgspec.ValidationError,
    data: Mapping[str, Any],
    root: type[msgspec.Struct],
    prefix: str,
    source_of: Mapping[str, str],
    default_source: str,
) -> ConfigError:
    message = str(exc)
    match = _MSGSPEC_PATH.search(message)
    location = _path_to_key(match.group("path")) if match else ""
    detail = message[: match.start()] if match else message
    unknown = re.match(r"Object contains unknown field `(?P<name>[^`]+)`", detail)
    if unknown:
        name = unknown.group("name")
        key = ".".join(p for p in (prefix, location, name) if p)
        struct = _struct_at(root, location)
        allowed = _fields(struct) if struct is not None else []
        guess = difflib.get_close_matches(name, allowed, n=1)
        source = source_of.get(key.removeprefix(prefix + ".") if prefix else key, default_source)
        return ConfigError(
            f"{key}: unknown key ({source}).",
            field=key,
            hint=(f"Did you mean '{guess[0]}'? " if guess else "")
            + (f"Allowed keys here: {', '.join(allowed)}." if allowed else ""),
        )
    key = ".".join(p for p in (prefix, location) if p)
    local = location
    found = _lookup(data, local)
    if "secret" in local or local in ("database_url", "redis_url"):
        found = MASK  # never echo a secret back, not even a malformed one
    parent, _, name = local.rpartition(".")
    struct = _struct_at(root, parent)
    expected = _expected(struct, name) if struct is not None and name else None
    source = source_of.get(local, default_source)
    reason = detail.rstrip(". ")
    if expected:
        text = f"{key}: expected {expected}, found {_describe(found)} ({source}). {reason}."
    else:
        text = f"{key}: {reason}; found {_describe(found)} ({source})."
    return ConfigError(text, field=key or None, hint="See docs/configuration.md for every key.")


def _check_urls(config: OctaneConfig, origins: Mapping[str, str], source: str) -> None:
    if config.database_url is not None:
        scheme = urlsplit(config.database_url).scheme
        if scheme not in ("sqlite", "postgresql", "postgres") or (
            scheme == "sqlite" and not config.database_url.startswith("sqlite:///")
        ):
            raise ConfigError(
                f"database_url: expected a sqlite:/// or postgresql:// URL, found "
                f"{_mask_url(config.database_url)!r} ({origins.get('database_url', source)}).",
                field="database_url",
                hint="Use sqlite:///path/to/octane.sqlite3 or "
                "postgresql://user:password@host:5432/dbname",
            )
    if config.redis_url is not None:
        scheme = urlsplit(config.redis_url).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"redis_url: expected a redis://, rediss:// or unix:// URL, found "
                f"{_mask_url(config.redis_url)!r} ({origins.get('redis_url', source)}).",
                field="redis_url",
                hint="Use redis://host:6379/0, or leave it unset for the embedded Redis.",
            )


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> OctaneConfig:
    """Read, merge and validate the configuration; a ConfigError says what is wrong."""
    env = os.environ if env is None else env
    file_path = _config_file(path, env)
    data, source = _read_file(file_path)
    secret_paths: set[str] = set()
    data = _resolve_placeholders(data, "", env, secret_paths, source)
    if "secret_paths" in data:
        raise ConfigError(
            f"secret_paths: unknown key ({source}).",
            field="secret_paths",
            hint="Mark a value as secret by writing it as a $env or $file placeholder.",
        )
    _split_plugin_blocks(data, source)
    origins: dict[str, str] = {}
    _apply_env(data, env, origins)
    try:
        config = msgspec.convert(data, OctaneConfig)
    except msgspec.ValidationError as exc:
        raise _translate(exc, data, OctaneConfig, "", origins, source) from None
    config = msgspec.structs.replace(config, secret_paths=frozenset(secret_paths))
    _check_urls(config, origins, source)
    return config


def decode_plugin_block(plugin_name: str, raw: Mapping[str, Any], schema: type[T]) -> T:
    """Validate a ``[plugins.<name>]`` block into the plugin's own msgspec Struct."""
    try:
        return msgspec.convert(dict(raw), schema)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _MSGSPEC_PATH.search(message)
        location = _path_to_key(match.group("path")) if match else ""
        detail = message[: match.start()] if match else message
        unknown = re.match(r"Object contains unknown field `(?P<name>[^`]+)`", detail)
        allowed = list(getattr(schema, "__struct_fields__", ()))
        if unknown:
            name = unknown.group("name")
            guess = difflib.get_close_matches(name, allowed, n=1)
            key = ".".join(p for p in ("plugins", plugin_name, location, name) if p)
            return_error = ConfigError(
                f"{key}: unknown key for the plugin '{plugin_name}'.",
                field=key,
                hint=(f"Did you mean '{guess[0]}'? " if guess else "")
                + f"Allowed keys: {', '.join(allowed) or '(none)'}.",
            )
        else:
            key = ".".join(p for p in ("plugins", plugin_name, location) if p)
            found = _lookup(dict(raw), location)
            return_error = ConfigError(
                f"{key}: {detail.rstrip('. ')}; found {_describe(found)}.",
                field=key,
                hint=f"See the {plugin_name} plugin's documentation for its settings.",
            )
        raise return_error from None


# -------------------------------------------------------------------- printing


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shown(key: str, value: Any, secret_paths: frozenset[str]) -> str:
    if value is None:
        return f"# {key} is unset"
    if key in secret_paths or key == "secret_key":
        return f"{key.rsplit('.', 1)[-1]} = {_toml_value(MASK)}"
    if key in ("database_url", "redis_url"):
        return f"{key} = {_toml_value(_mask_url(str(value)))}"
    return f"{key.rsplit('.', 1)[-1]} = {_toml_value(value)}"


def _mask_block(block: Mapping[str, Any], path: str, secret_paths: frozenset[str]) -> Any:
    masked: dict[str, Any] = {}
    for key, value in block.items():
        here = f"{path}.{key}"
        if here in secret_paths or any(p.startswith(here + ".") for p in secret_paths):
            masked[key] = (
                _mask_block(value, here, secret_paths) if isinstance(value, dict) else MASK
            )
        else:
            masked[key] = value
    return masked


def render_effective_config(config: OctaneConfig) -> str:
    """The configuration in effect, as TOML, with every secret masked."""
    lines = ["# Effective Octane configuration (secrets masked)"]
    for name in _fields(OctaneConfig):
        if name in _SECTIONS:
            continue
        lines.append(_shown(name, getattr(config, name), config.secret_paths))
    lines.append(f"# data directory: {config.data_path()}")
    for section in ("web", "worker"):
        lines.append("")
        lines.append(f"[{section}]")
        struct = getattr(config, section)
        for name in _fields(type(struct)):
            lines.append(_shown(f"{section}.{name}", getattr(struct, name), config.secret_paths))
    lines.append("")
    lines.append("[plugins]")
    lines.append(f"enabled = {_toml_value(config.plugins.enabled)}")
    for plugin, block in sorted(config.plugins.blocks.items()):
        lines.append("")
        lines.append(f"[plugins.{plugin}]")
        masked = _mask_block(block, f"plugins.{plugin}", config.secret_paths)
        for key, value in masked.items():
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines)
