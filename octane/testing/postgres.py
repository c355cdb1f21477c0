"""A throwaway PostgreSQL server on loopback, for tests and benchmarks.

``initdb`` refuses to run as root, and CI runs as root: then the data directory
is handed to the ``postgres`` system user and the server commands run through
``runuser``. Durability is switched off (``fsync``, ``synchronous_commit``,
``full_page_writes``): the data is thrown away anyway, and tests run faster.
Each instance is its own server (own directory, own port), so a process may run
several at once, e.g. a test session and a benchmark.

::

    with ThrowawayPostgres() as server:
        url = server.url_for(server.create_database())
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresUnavailable", "ThrowawayPostgres", "find_postgres_bin", "postgres_available"]

SUPERUSER = "octane"

# The server's Unix socket lives in the temp dir; Linux caps socket paths at 107 bytes.
_SOCKET_PATH_LIMIT = 107 - len("/octane-pg-xxxxxxxx/.s.PGSQL.65535")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine, or the server would not start."""


def find_postgres_bin() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's layout)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        real = Path(on_path).resolve()
        # Debian's /usr/bin wrappers are not the server binaries themselves.
        if (real.parent / "initdb").exists() and (real.parent / "postgres").exists():
            return real.parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. "
        "Install them with: sudo apt-get install postgresql"
    )


def postgres_available() -> bool:
    """Whether :class:`ThrowawayPostgres` can find server binaries (for ``skipif`` marks)."""
    try:
        find_postgres_bin()
    except PostgresUnavailable:
        return False
    return True


def _others_can_traverse(folder: Path) -> bool:
    """Whether a user who is neither owner nor group member can reach inside ``folder``."""
    for part in (folder, *folder.parents):
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _temp_parent(as_root: bool) -> str:
    """Where to make the server's temp dir: the usual temp dir when the server can use it.

    As root the server runs as ``postgres``, which cannot enter a TMPDIR under a private
    folder (pytest's ``tmp_path`` root, ``/root/...``); initdb then fails with "Permission
    denied". A very long TMPDIR would overflow the Unix socket path. ``/tmp`` has neither
    problem.
    """
    usual = Path(tempfile.gettempdir())
    if len(str(usual)) > _SOCKET_PATH_LIMIT or (as_root and not _others_can_traverse(usual)):
        return "/tmp"
    return str(usual)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """Start a private PostgreSQL server in a temporary directory; stop and delete it after.

    ``settings`` adds or overrides server settings (``-c name=value``), e.g. for benchmarks
    that want ``shared_buffers`` raised. An instance may be started again after ``stop()``,
    on a new directory and port.
    """

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.bin = find_postgres_bin()
        self.host = "127.0.0.1"
        self.port = 0
        self.user = SUPERUSER
        self.root: Path | None = None
        self.settings = dict(settings or {})
        self._as_root = os.geteuid() == 0

    # -- lifecycle ------------------------------------------------------------

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    @property
    def _data(self) -> Path:
        assert self.root is not None, "the server is not started"
        return self.root / "data"

    def _options(self) -> str:
        """The ``pg_ctl -o`` string; pg_ctl hands it to ``/bin/sh``, so values are quoted."""
        assert self.root is not None
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",  # tests open many pools
            **self.settings,
        }
        return " ".join(f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items())

    def start(self) -> ThrowawayPostgres:
        if self.root is not None:
            # Starting again would orphan the running server (and its directory).
            raise RuntimeError(f"this server is already running on port {self.port}")
        self.root = Path(tempfile.mkdtemp(prefix="octane-pg-", dir=_temp_parent(self._as_root)))
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)
        init = self._run(
            "initdb",
            "-D",
            str(self._data),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if init.returncode != 0:
            self._cleanup()
            raise PostgresUnavailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        log_path = self.root / "server.log"
        for _ in range(5):
            self.port = _free_port()
            seen = log_path.stat().st_size if log_path.exists() else 0
            started = self._run(
                "pg_ctl",
                "-D",
                str(self._data),
                "-l",
                str(log_path),
                "-w",
                "-t",
                "60",
                "-o",
                self._options(),
                "start",
            )
            if started.returncode == 0:
                atexit.register(self.stop)
                return self
            written = log_path.read_bytes() if log_path.exists() else b""
            log = written.decode(errors="replace")
            # Another process may grab the port between probe and bind: only that is retried.
            if b"Address already in use" not in written[seen:]:
                break
        self._cleanup()
        raise PostgresUnavailable(
            f"PostgreSQL did not start:\n{started.stderr.strip()}\n"
            f"-- server log (tail) --\n{log[-2000:]}"
        )

    def stop(self) -> None:
        if self.root is None:
            return
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        self._cleanup()

    def _cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database (a unique name when None) and return its name."""
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        args = ["-h", self.host, "-p", str(self.port), "-U", self.user]
        if template:
            args += ["-T", template]
        # The createdb binary, not asyncpg: this may be called while an event loop runs.
        done = subprocess.run(
            [str(self.bin / "createdb"), *args, name], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"createdb {name} failed: {done.stderr.strip()}")
        return name

    async def acreate_database(
        self, name: str | None = None, *, template: str | None = None
    ) -> str:
        """Like :meth:`create_database`, from inside an event loop."""
        import asyncpg

        name = name or f"db_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(self.url_for("postgres"))
        try:
            suffix = f" TEMPLATE {_quote_ident(template)}" if template else ""
            await connection.execute(f"CREATE DATABASE {_quote_ident(name)}{suffix}")
        finally:
            await connection.close()
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database if it exists; raises if it cannot (e.g. connections still open)."""
        done = subprocess.run(
            [
                str(self.bin / "dropdb"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "--if-exists",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"dropdb {name} failed: {done.stderr.strip()}")


def _quote_ident(name: str) -> str:
    """A SQL identifier, quoted (CREATE DATABASE takes no bind parameters)."""
    return '"' + name.replace('"', '""') + '"'
