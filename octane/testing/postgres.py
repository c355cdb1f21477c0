"""A throwaway PostgreSQL server on loopback, for tests and benchmarks.

``initdb`` refuses to run as root, and CI runs as root: then the data directory
is handed to the ``postgres`` system user and the server commands run through
``runuser``. Durability is switched off (``fsync``, ``synchronous_commit``,
``full_page_writes``): the data is thrown away anyway, and tests run faster.

::

    with ThrowawayPostgres() as server:
        url = server.url_for(server.create_database())
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresUnavailable", "ThrowawayPostgres", "find_postgres_bin", "postgres_available"]

SUPERUSER = "octane"


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
    try:
        find_postgres_bin()
    except PostgresUnavailable:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """Start a private PostgreSQL server in a temporary directory; stop and delete it after."""

    def __init__(self) -> None:
        self.bin = find_postgres_bin()
        self.host = "127.0.0.1"
        self.port = 0
        self.user = SUPERUSER
        self.root: Path | None = None
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

    def start(self) -> ThrowawayPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="octane-pg-"))
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
        for _ in range(5):  # another process may grab the port between probe and bind
            self.port = _free_port()
            options = (
                f"-c listen_addresses={self.host} -c port={self.port} "
                f"-c unix_socket_directories={self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            started = self._run(
                "pg_ctl",
                "-D",
                str(self._data),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            )
            if started.returncode == 0:
                atexit.register(self.stop)
                return self
        log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
        self._cleanup()
        raise PostgresUnavailable(f"PostgreSQL did not start:\n{started.stderr}\n{log[-2000:]}")

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
            suffix = f' TEMPLATE "{template}"' if template else ""
            await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            await connection.close()
        return name

    def drop_database(self, name: str) -> None:
        subprocess.run(
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
            check=False,
        )
