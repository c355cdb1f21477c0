"""The ``octane`` command line.

Every command loads the configuration the same way (``--config`` or
``OCTANE_CONFIG``, then ``OCTANE_*`` variables). Known errors print one clear
message and exit non-zero without a traceback: 2 for configuration and plugin
problems, 1 for anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import octane
from octane.core.clock import SystemClock, ensure_utc
from octane.core.config import OctaneConfig, load_config, render_effective_config
from octane.core.errors import ConfigError, OctaneError, PluginError, ValidationError

__all__ = ["main"]


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"'{text}' is not an RFC 3339 time such as 2026-01-01T00:00:00Z.", field="time"
        ) from None
    return ensure_utc(value)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octane",
        description="Octane: usage-based billing with grace periods, a revenue ledger and plugins.",
    )
    parser.add_argument("--version", action="version", version=f"octane {octane.__version__}")
    parser.add_argument(
        "--config", help="path to octane.toml (default: $OCTANE_CONFIG, then ./octane.toml)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="run everything in one process: web, worker and an embedded Redis"
    )
    serve.add_argument("--host", help="interface to listen on (default: web.host)")
    serve.add_argument("--port", type=int, help="port to listen on (default: web.port)")

    web = commands.add_parser("web", help="run a web process (API and portal) only")
    web.add_argument("--host", help="interface to listen on (default: web.host)")
    web.add_argument("--port", type=int, help="port to listen on (default: web.port)")
    web.add_argument(
        "--processes",
        type=int,
        help="web processes sharing the port, about one per core (default: web.processes)",
    )

    commands.add_parser("worker", help="run a worker process (the job queue and the sweep)")
    commands.add_parser("migrate", help="create or upgrade the database schema")

    vendor = commands.add_parser("vendor", help="manage vendors").add_subparsers(
        dest="vendor_command", metavar="ACTION", required=True
    )
    vendor_create = vendor.add_parser("create", help="create a vendor and its first API key")
    vendor_create.add_argument("--name", required=True)
    vendor_create.add_argument("--email", required=True)
    vendor_create.add_argument(
        "--test-clock",
        nargs="?",
        const="now",
        metavar="TIME",
        help="run this vendor on its own test clock, starting at TIME (default: now)",
    )
    vendor_create.add_argument("--json", action="store_true", help="print JSON")

    user = commands.add_parser("user", help="manage portal users").add_subparsers(
        dest="user_command", metavar="ACTION", required=True
    )
    user_create = user.add_parser("create", help="create a portal login for a vendor")
    user_create.add_argument("--vendor", required=True, help="the vendor id (ven_...)")
    user_create.add_argument("--email", required=True)
    user_create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    keys = commands.add_parser("api-key", help="manage a vendor's API keys").add_subparsers(
        dest="key_command", metavar="ACTION", required=True
    )
    key_create = keys.add_parser("create", help="create a key (shown once)")
    key_create.add_argument("--vendor", required=True, help="the vendor id (ven_...)")
    key_create.add_argument("--name", default="", help="what the key is for")
    key_list = keys.add_parser("list", help="list keys (never the keys themselves)")
    key_list.add_argument("--vendor", required=True)
    key_revoke = keys.add_parser("revoke", help="revoke a key at once")
    key_revoke.add_argument("--vendor", required=True)
    key_revoke.add_argument("--id", required=True, help="the key id (key_...)")

    clock = commands.add_parser("clock", help="a test-clock vendor's time").add_subparsers(
        dest="clock_command", metavar="ACTION", required=True
    )
    clock_show = clock.add_parser("show", help="print the vendor's current time")
    clock_show.add_argument("--vendor", required=True, help="the vendor id (ven_...)")
    clock_advance = clock.add_parser(
        "advance", help="move a test clock forward and process all work due by then"
    )
    clock_advance.add_argument("--vendor", required=True, help="the vendor id (ven_...)")
    clock_advance.add_argument("--to", required=True, help="RFC 3339 time, e.g. 2026-05-01T00:00Z")
    clock_advance.add_argument("--json", action="store_true", help="print JSON")
    clock_advance.add_argument(
        "--on-workers",
        action="store_true",
        help="move the clock at once and have the running workers do what fell due "
        "(returns without waiting); by default the work is done here, deadline by deadline",
    )

    plugins = commands.add_parser(
        "plugins", help="list installed plugins and their state ('plugins new' starts one)"
    )
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugin_actions = plugins.add_subparsers(dest="plugins_command", metavar="ACTION")
    plugins_new = plugin_actions.add_parser(
        "new", help="create a new plugin distribution (a payment provider skeleton) to fill in"
    )
    plugins_new.add_argument(
        "name", metavar="NAME", help="the plugin's name: a lowercase Python identifier (acmepay)"
    )
    plugins_new.add_argument(
        "--dir", help="the folder to create (default: ./octane-NAME); it must not exist"
    )
    plugin_actions.add_parser(
        "hooks", help="print the reference of every hook (Markdown, as in docs/hooks.md)"
    )

    commands.add_parser(
        "check-config", help="validate the configuration and print it, secrets masked"
    )
    commands.add_parser("demo", help="seed a demo vendor with customers, plans and usage")
    return parser


def _run(coroutine_factory: Callable[[], Awaitable[int]]) -> int:
    return asyncio.run(coroutine_factory())  # type: ignore[arg-type]


def _run_server(coroutine_factory: Callable[[], Awaitable[int]]) -> int:
    """Servers run on uvloop where it is installed (a dependency except on Windows): its
    event loop costs less per request than asyncio's."""
    try:
        import uvloop
    except ImportError:
        return _run(coroutine_factory)
    return int(uvloop.run(coroutine_factory()))  # type: ignore[arg-type]


async def _with_runtime(
    config: OctaneConfig, body: Callable[[Any], Awaitable[int]], *, migrate: bool = False
) -> int:
    from octane.core.runtime import start_octane

    runtime = await start_octane(config, run_migrations=migrate)
    try:
        return await body(runtime)
    finally:
        await runtime.close()


def _cmd_migrate(config: OctaneConfig) -> int:
    async def body(_: Any) -> int:
        from octane.core.store.migrate import migrate

        applied = await migrate()
        print(f"Applied {len(applied)} migration(s)." if applied else "The database is up to date.")
        return 0

    return _run(lambda: _with_runtime(config, body))


def _cmd_vendor_create(config: OctaneConfig, args: argparse.Namespace) -> int:
    clock = SystemClock()
    start = None
    if args.test_clock is not None:
        start = clock.now() if args.test_clock == "now" else _parse_time(args.test_clock)

    async def body(_: Any) -> int:
        from octane.core.vendors import create_api_key, create_vendor

        vendor = await create_vendor(
            name=args.name, email=args.email, clock=clock, test_clock_start=start
        )
        key = await create_api_key(str(vendor["id"]), clock=clock, name="created by the CLI")
        out = {
            "vendor_id": vendor["id"],
            "name": vendor["name"],
            "test_clock": start.isoformat() if start else None,
            "api_key": key.key,
        }
        if args.json:
            print(json.dumps(out))
        else:
            print(f"Vendor {vendor['id']} ({vendor['name']}) created.")
            if start:
                print(f"It runs on a test clock starting at {start.isoformat()}.")
            print(f"API key (shown once, store it now): {key.key}")
        return 0

    return _run(lambda: _with_runtime(config, body))


def _cmd_user_create(config: OctaneConfig, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")

    async def body(_: Any) -> int:
        from octane.core.vendors import create_portal_user

        user = await create_portal_user(
            args.vendor, email=args.email, password=password, clock=SystemClock()
        )
        print(f"Portal user {user['email']} created for vendor {args.vendor}.")
        return 0

    return _run(lambda: _with_runtime(config, body))


def _cmd_api_key(config: OctaneConfig, args: argparse.Namespace) -> int:
    async def body(_: Any) -> int:
        from octane.core.vendors import (
            create_api_key,
            get_vendor,
            list_api_keys,
            revoke_api_key,
        )

        await get_vendor(args.vendor)
        if args.key_command == "create":
            key = await create_api_key(args.vendor, clock=SystemClock(), name=args.name)
            print(f"API key {key.id} (shown once, store it now): {key.key}")
        elif args.key_command == "list":
            for row in await list_api_keys(args.vendor):
                state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
                print(f"{row['id']}  {row['prefix']}...  {state}  {row['name']}")
        else:
            await revoke_api_key(args.vendor, args.id, clock=SystemClock())
            print(f"API key {args.id} is revoked.")
        return 0

    return _run(lambda: _with_runtime(config, body))


def _cmd_clock(config: OctaneConfig, args: argparse.Namespace) -> int:
    async def _advance_on_workers() -> int:
        from octane.core.lifecycle_jobs import advance_on_workers
        from octane.core.queue import connect_queue

        handle = await connect_queue(config.redis_url, config.data_path())
        try:
            now = await advance_on_workers(handle.queue, args.vendor, _parse_time(args.to))
        finally:
            await handle.aclose()
        if args.json:
            print(json.dumps({"now": now.isoformat(), "on_workers": True}, indent=2))
        else:
            print(f"The clock is now {now.isoformat()}; the workers are doing what fell due.")
        return 0

    async def body(runtime: Any) -> int:
        from octane.core.clocks import vendor_clock
        from octane.core.lifecycle import advance_and_run

        if args.clock_command == "show":
            print((await vendor_clock(args.vendor)).now().isoformat())
            return 0
        if args.on_workers:
            return await _advance_on_workers()
        summary = await advance_and_run(
            runtime.plugins, args.vendor, _parse_time(args.to), accrue=True
        )
        now = (await vendor_clock(args.vendor)).now()
        report = {
            "now": now.isoformat(),
            "cycles_closed": summary.cycles_closed,
            "invoices_finalized": summary.invoices_finalized,
            "invoices_delivered": summary.invoices_delivered,
            "payments_attempted": summary.payments_attempted,
            "errors": summary.errors,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(
                f"The clock is now {report['now']}: {summary.cycles_closed} cycle(s) closed, "
                f"{summary.invoices_finalized} invoice(s) finalized, "
                f"{summary.invoices_delivered} delivered, "
                f"{summary.payments_attempted} payment(s) attempted."
            )
            for error in summary.errors:
                print(f"  error: {error}")
        return 1 if summary.errors else 0

    return _run(lambda: _with_runtime(config, body))


def _cmd_plugins(config: OctaneConfig, args: argparse.Namespace) -> int:
    from octane.core.plugins import describe_plugins

    records = describe_plugins(config.plugins.enabled)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "version": r.version,
                        "origin": r.origin,
                        "enabled": r.enabled,
                        "hooks": r.hooks,
                        "errors": r.errors,
                    }
                    for r in records
                ],
                indent=2,
            )
        )
        return 0
    for record in records:
        state = "enabled" if record.enabled else "disabled"
        print(f"{record.name} {record.version}  [{state}]  {record.origin}")
        print(f"    hooks: {', '.join(record.hooks) or '(none)'}")
        for error in record.errors:
            print(f"    error: {error}")
    return 0


def _cmd_plugins_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from octane.scaffold import new_plugin

    target, written = new_plugin(args.name, Path(args.dir) if args.dir else None)
    print(f"Created the plugin '{args.name}' in {target}:")
    for path in written:
        print(f"    {path.relative_to(target)}")
    print(
        f"Next: pip install -e {target}, fill in the TODOs, and enable it in octane.toml "
        f'([plugins] enabled = ["{args.name}"]).'
    )
    return 0


def _cmd_check_config(config: OctaneConfig) -> int:
    from octane.core.plugins import load_plugins

    load_plugins(config.plugins.enabled, blocks=config.plugins.blocks)
    print(render_effective_config(config))
    print("# The configuration is valid.", file=sys.stderr)
    return 0


def _cmd_demo(config: OctaneConfig) -> int:
    async def body(runtime: Any) -> int:
        from octane.core.demo import seed_demo

        summary = await seed_demo(runtime)
        print(summary.describe(runtime.config))
        return 0

    return _run(lambda: _with_runtime(config, body, migrate=True))


def _cmd_serve(config: OctaneConfig, args: argparse.Namespace, *, embedded: bool) -> int:
    from octane.runner import run_serve, run_web

    host = args.host or config.web.host
    port = args.port or config.web.port
    if embedded:
        return _run_server(lambda: run_serve(config, host=host, port=port))
    processes = config.web.processes if args.processes is None else args.processes
    if processes == 1:
        return _run_server(lambda: run_web(config, host=host, port=port))
    return _serve_web_processes(config, host, port, processes)


def _serve_web_processes(config: OctaneConfig, host: str, port: int, processes: int) -> int:
    from octane.core.queue import EmbeddedRedis
    from octane.runner import run_web
    from octane.web_processes import can_fork, listening_sockets, serve_in_processes

    if not 1 <= processes <= 64:
        raise ConfigError(f"--processes: expected 1 to 64 web processes, got {processes}.")
    if not can_fork():
        raise ConfigError(
            f"--processes: {processes} web processes need os.fork (Linux, macOS); "
            "run one process per port instead, behind a load balancer."
        )
    try:
        sockets = listening_sockets(host, port, processes)
    except OSError as exc:
        raise ConfigError(f"web.port: cannot listen on {host}:{port}: {exc.strerror}.") from exc
    # Without redis_url the processes share one embedded Redis: started here, before the
    # fork, rather than raced for by the processes (and stopped with this command).
    embedded = None if config.redis_url else EmbeddedRedis(config.data_path())
    try:
        if embedded is not None:
            config.data_path().mkdir(parents=True, exist_ok=True)
            asyncio.run(embedded.start())
        print(f"Octane web: {processes} processes on http://{host}:{port}/", flush=True)
        supervisor = os.getpid()
        return serve_in_processes(
            sockets,
            lambda sock: _run_server(
                lambda: run_web(config, host=host, port=port, sock=sock, supervisor=supervisor)
            ),
        )
    finally:
        for sock in sockets:
            sock.close()
        if embedded is not None:
            asyncio.run(embedded.stop())


def _cmd_worker(config: OctaneConfig) -> int:
    from octane.runner import run_worker_process

    return _run(lambda: run_worker_process(config))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "plugins" and args.plugins_command == "new":
        return _cmd_plugins_new(args)  # needs no configuration
    if args.command == "plugins" and args.plugins_command == "hooks":
        from octane.core.hook_reference import render_hook_reference

        print(render_hook_reference(), end="")
        return 0
    config = load_config(args.config)
    command = args.command
    if command == "migrate":
        return _cmd_migrate(config)
    if command == "vendor":
        return _cmd_vendor_create(config, args)
    if command == "user":
        return _cmd_user_create(config, args)
    if command == "api-key":
        return _cmd_api_key(config, args)
    if command == "clock":
        return _cmd_clock(config, args)
    if command == "plugins":
        return _cmd_plugins(config, args)
    if command == "check-config":
        return _cmd_check_config(config)
    if command == "demo":
        return _cmd_demo(config)
    if command in ("serve", "web"):
        return _cmd_serve(config, args, embedded=command == "serve")
    if command == "worker":
        return _cmd_worker(config)
    raise AssertionError(f"unhandled command {command}")  # argparse prevents this


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (ConfigError, PluginError) as exc:
        print(f"octane: configuration error: {exc}", file=sys.stderr)
        return 2
    except OctaneError as exc:
        where = f" ({exc.field})" if exc.field else ""
        print(f"octane: error{where}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
